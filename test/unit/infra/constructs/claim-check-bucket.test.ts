import { Match } from 'aws-cdk-lib/assertions';
import { devStage, ref, SYNTH_TIMEOUT, template } from '../fixtures.ts';
import { logicalId, type Synthesized } from '../synth.ts';

let built: Synthesized;

beforeAll(() => {
  built = devStage();
}, SYNTH_TIMEOUT);

describe('ClaimCheckBucket', () => {
  it('is encrypted, TLS only, private, logged, and expires objects after the retention', () => {
    const id = logicalId(built, built.stack.claimCheck.bucket);
    const bucket = template().toJSON().Resources[id].Properties;
    expect(
      bucket.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault,
    ).toEqual({
      SSEAlgorithm: 'AES256',
    });
    expect(bucket.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(bucket.LoggingConfiguration.DestinationBucketName).toEqual(
      ref(logicalId(built, built.stack.claimCheck.accessLogs)),
    );
    expect(bucket.LifecycleConfiguration.Rules).toEqual([
      expect.objectContaining({ ExpirationInDays: built.config.retentionDays, Status: 'Enabled' }),
    ]);
    template().hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: ref(id),
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });
});
