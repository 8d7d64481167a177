/**
 * The part of the S3 SDK the integration uses (claim checks), as one module that `clients.ts` imports on
 * first use. Naming the three exports keeps the bundle to them: a dynamic import of the whole package would
 * carry every S3 command.
 */
export { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
