import { type Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

const ack = (scope: IConstruct | undefined, id: string, reason: string) => {
  if (scope) Validations.of(scope).acknowledge({ id, reason });
};

/**
 * cdk-nag findings we accept, each for a specific reason. Anything not listed here fails synth
 * and the nag test.
 */
export function acknowledgeNagFindings(stack: Stack): void {
  const exp = stack.node.tryFindChild('Export');
  const imp = stack.node.tryFindChild('Import');
  ack(
    stack.node.tryFindChild('DeployKey'),
    'AwsSolutions-SMG4',
    'Convex deploy keys are issued and revoked in the Convex dashboard; a rotation Lambda cannot mint one.',
  );
  for (const scope of [exp, imp]) {
    ack(
      scope,
      'AwsSolutions-L1',
      'Node.js 22 is pinned deliberately: the team toolchain and tests run on Node 20/22-compatible dependencies; bumping the runtime is a tested change, not an automatic one.',
    );
  }
  const bucket = exp?.node.tryFindChild('OversizeBucket');
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
  ack(
    exp,
    'AwsSolutions-IAM5[Resource::<ExportOversizeBucket1CF39884.Arn>/events/*]',
    'Claim-check object keys are per event (events/<component>/<table>/<id>/<ts>.json), so writes are scoped to the events/ prefix, not to fixed keys.',
  );
}
