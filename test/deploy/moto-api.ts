/**
 * Read-only calls to moto for the services the bridge has no SDK client for (CloudFormation,
 * Lambda, EventBridge, CloudWatch), so the deploy test can see what a stack created without new
 * dependencies. moto reads the service from the credential scope and does not check signatures,
 * so these requests are unsigned: they work against moto only.
 */

const auth = (service: string, region: string) =>
  `AWS4-HMAC-SHA256 Credential=test/20260101/${region}/${service}/aws4_request, SignedHeaders=host, Signature=0`;

export class MotoApi {
  constructor(
    private readonly endpoint: string,
    private readonly region = 'us-east-1',
  ) {}

  private async call(
    service: string,
    init: { method?: string; path?: string; headers?: Record<string, string>; body?: string },
  ): Promise<{ status: number; text: string }> {
    const res = await fetch(`${this.endpoint}${init.path ?? '/'}`, {
      method: init.method ?? 'POST',
      headers: { authorization: auth(service, this.region), ...init.headers },
      ...(init.body !== undefined ? { body: init.body } : {}),
      signal: AbortSignal.timeout(20_000),
    });
    return { status: res.status, text: await res.text() };
  }

  private async query(service: string, version: string, params: Record<string, string>) {
    return this.call(service, {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ Version: version, ...params }).toString(),
    });
  }

  private async json(service: string, target: string, body: unknown): Promise<unknown> {
    const r = await this.call(service, {
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target },
      body: JSON.stringify(body),
    });
    if (r.status !== 200) throw new Error(`${target}: HTTP ${r.status} ${r.text.slice(0, 300)}`);
    return JSON.parse(r.text);
  }

  /** The stack's status, or undefined when CloudFormation does not know it (deleted). */
  async stackStatus(stackName: string): Promise<string | undefined> {
    const r = await this.query('cloudformation', '2010-05-15', {
      Action: 'DescribeStacks',
      StackName: stackName,
    });
    if (r.status !== 200) {
      if (/does not exist/.test(r.text)) return undefined;
      throw new Error(`DescribeStacks: HTTP ${r.status} ${r.text.slice(0, 300)}`);
    }
    return /<StackStatus>([^<]+)<\/StackStatus>/.exec(r.text)?.[1];
  }

  /** Every resource of the stack as CloudFormation recorded it. */
  async stackResources(
    stackName: string,
  ): Promise<{ logicalId: string; physicalId: string; type: string; status: string }[]> {
    const r = await this.query('cloudformation', '2010-05-15', {
      Action: 'ListStackResources',
      StackName: stackName,
    });
    if (r.status !== 200)
      throw new Error(`ListStackResources: HTTP ${r.status} ${r.text.slice(0, 300)}`);
    const field = (member: string, name: string) =>
      new RegExp(`<${name}>([^<]*)</${name}>`).exec(member)?.[1] ?? '';
    return [...r.text.matchAll(/<member>([\s\S]*?)<\/member>/g)].map(([, m = '']) => ({
      logicalId: field(m, 'LogicalResourceId'),
      physicalId: field(m, 'PhysicalResourceId'),
      type: field(m, 'ResourceType'),
      status: field(m, 'ResourceStatus'),
    }));
  }

  async functions(): Promise<
    {
      FunctionName: string;
      FunctionArn: string;
      Timeout: number;
      Environment?: { Variables?: Record<string, string> };
    }[]
  > {
    const r = await this.call('lambda', { method: 'GET', path: '/2015-03-31/functions/' });
    if (r.status !== 200) throw new Error(`ListFunctions: HTTP ${r.status}`);
    return (JSON.parse(r.text) as { Functions: never[] }).Functions;
  }

  /** Scheduled rules with the ARNs they target. */
  async scheduleRules(): Promise<{ name: string; schedule: string; targets: string[] }[]> {
    const { Rules } = (await this.json('events', 'AWSEvents.ListRules', {})) as {
      Rules: { Name: string; ScheduleExpression?: string }[];
    };
    return Promise.all(
      Rules.filter((r) => r.ScheduleExpression).map(async (r) => {
        const { Targets } = (await this.json('events', 'AWSEvents.ListTargetsByRule', {
          Rule: r.Name,
        })) as { Targets: { Arn: string }[] };
        return {
          name: r.Name,
          schedule: r.ScheduleExpression as string,
          targets: Targets.map((t) => t.Arn),
        };
      }),
    );
  }

  async alarmNames(): Promise<string[]> {
    const r = await this.query('monitoring', '2010-08-01', { Action: 'DescribeAlarms' });
    if (r.status !== 200) throw new Error(`DescribeAlarms: HTTP ${r.status}`);
    return [...r.text.matchAll(/<AlarmName>([^<]+)<\/AlarmName>/g)].map(([, n = '']) => n);
  }
}
