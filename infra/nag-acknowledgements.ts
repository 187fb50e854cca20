import { type Stack, Validations } from 'aws-cdk-lib';
import type { CfnBucket } from 'aws-cdk-lib/aws-s3';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IConstruct } from 'constructs';
import { ConvexExport } from './constructs/convex-export.js';
import { ConvexImport } from './constructs/convex-import.js';

const ack = (scope: IConstruct | undefined, id: string, reason: string) => {
  if (scope) Validations.of(scope).acknowledge({ id, reason });
};

/**
 * cdk-nag findings we accept, each for a specific reason. Anything not listed here fails synth
 * and the nag test. Applies to every deployment's export and import.
 */
export function acknowledgeNagFindings(stack: Stack): void {
  const all = stack.node.findAll();
  for (const secret of all.filter((c) => c instanceof Secret)) {
    ack(
      secret,
      'AwsSolutions-SMG4',
      'Convex deploy keys are issued and revoked in the Convex dashboard; a rotation Lambda cannot mint one.',
    );
  }
  for (const scope of all.filter((c) => c instanceof ConvexExport || c instanceof ConvexImport)) {
    ack(
      scope,
      'AwsSolutions-L1',
      'Node.js 22 is pinned deliberately: the team toolchain and tests run on Node 20/22-compatible dependencies; bumping the runtime is a tested change, not an automatic one.',
    );
  }
  for (const exp of all.filter((c): c is ConvexExport => c instanceof ConvexExport)) {
    const bucket = exp.oversizeBucket;
    ack(
      bucket,
      'AwsSolutions-S1',
      'Claim-check objects are written only by the exporter role and read by consumers; enable CloudTrail S3 data events if access auditing is required.',
    );
    ack(
      exp,
      'AwsSolutions-IAM5[Action::s3:Abort*]',
      'From grantPut: lets the exporter abort its own multipart uploads of claim-check objects.',
    );
    const bucketId = stack.getLogicalId(bucket.node.defaultChild as CfnBucket);
    ack(
      exp,
      `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/events/*]`,
      'Claim-check object keys are per event (events/<component>/<table>/<id>/<ts>.json), so writes are scoped to the events/ prefix, not to fixed keys.',
    );
  }
}
