import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { CLAIM_CHECK_BUCKET_ENV } from '#shared/store/tables.ts';

export interface ClaimCheckBucketProps {
  /** Days an object lives; matches the trace retention so a claim check expires with its trace. */
  readonly retentionDays: number;
  /**
   * Keep the buckets when the stack is deleted or they are replaced (RETAIN_ON_UPDATE_OR_DELETE: a failed
   * first create still removes them, so a retry does not meet them).
   * @default false
   */
  readonly retain?: boolean;
  /**
   * Days the server access logs are kept.
   * @default 90
   */
  readonly accessLogRetentionDays?: number;
}

/**
 * The claim-check bucket: bodies over the SQS limit are stored here and the queue carries a reference.
 * Encrypted, TLS only, no public access, objects expire after the retention, server access logs go to a
 * bucket of their own (cdk-nag recognises it as a log target, so it needs no logging of its own).
 * Objects are keyed `<flowId>/<messageId>.json`; each flow's functions are granted their prefix only.
 */
export class ClaimCheckBucket extends Construct {
  public readonly bucket: s3.Bucket;
  public readonly accessLogs: s3.Bucket;

  constructor(scope: Construct, id: string, props: ClaimCheckBucketProps) {
    super(scope, id);
    const removalPolicy = props.retain ? RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE : RemovalPolicy.DESTROY;
    const common = {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy,
    };
    this.accessLogs = new s3.Bucket(this, 'AccessLogs', {
      ...common,
      lifecycleRules: [{ expiration: Duration.days(props.accessLogRetentionDays ?? 90) }],
    });
    this.bucket = new s3.Bucket(this, 'Bucket', {
      ...common,
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: 'claim-check/',
      lifecycleRules: [
        {
          expiration: Duration.days(props.retentionDays),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
    });
  }

  /** The environment variable handlers read the bucket name from. */
  public get environment(): Record<string, string> {
    return { [CLAIM_CHECK_BUCKET_ENV]: this.bucket.bucketName };
  }
}
