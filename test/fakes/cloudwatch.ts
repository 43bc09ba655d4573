/**
 * A fake CloudWatch endpoint for `CLOUDWATCH_ENDPOINT`. @aws-sdk/client-cloudwatch 3.11xx speaks the
 * AWS JSON 1.0 protocol (query-compatible): `POST /`, `X-Amz-Target: GraniteServiceVersion20100801.<Op>`,
 * `Content-Type: application/x-amz-json-1.0`, bodies over 10 KB gzip-compressed, errors as
 * `{ "__type", "message" }` plus the `x-amzn-query-error` header. Older clients send the awsQuery form
 * (`Action=PutMetricData&MetricData.member.1...`); that is recorded too, as flat params.
 * It keeps alarms and dashboards like the real service (Put* are upserts) and records every request.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import zlib from "node:zlib";

export interface RecordedRequest {
  operation: string;
  protocol: "json" | "query";
  /** The JSON body, or the flat form params of an awsQuery request. */
  body: Record<string, any>;
  headers: http.IncomingHttpHeaders;
  gzip: boolean;
}

const ERRORS: Record<number, { type: string; query: string }> = {
  400: { type: "InvalidParameterValueException", query: "InvalidParameterValue;Sender" },
  429: { type: "ThrottlingException", query: "Throttling;Sender" },
  500: { type: "InternalServiceFault", query: "InternalServiceError;Receiver" },
  503: { type: "ServiceUnavailableException", query: "ServiceUnavailable;Receiver" },
};

export class FakeCloudWatch {
  readonly requests: RecordedRequest[] = [];
  readonly alarms = new Map<string, Record<string, any>>();
  readonly dashboards = new Map<string, Record<string, any>>();
  private faults: number[] = [];
  private server = http.createServer((req, res) => void this.handle(req, res));

  /** The next `times` requests answer with `status` (an AWS error body) before anything is stored. */
  failNext(status: number, times = 1): void {
    for (let i = 0; i < times; i++) this.faults.push(status);
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return this.url;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** Every datum of every PutMetricData request, in arrival order. */
  get metricData(): Array<Record<string, any>> {
    return this.requests.filter((r) => r.operation === "PutMetricData" && r.protocol === "json").flatMap((r) => r.body.MetricData as Array<Record<string, any>>);
  }

  ofOperation(operation: string): RecordedRequest[] {
    return this.requests.filter((r) => r.operation === operation);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let raw = Buffer.concat(chunks);
    const gzip = req.headers["content-encoding"] === "gzip";
    if (gzip) raw = zlib.gunzipSync(raw);
    const target = String(req.headers["x-amz-target"] ?? "");
    const isJson = target.startsWith("GraniteServiceVersion20100801.");
    const body: Record<string, any> = isJson ? JSON.parse(raw.toString("utf8") || "{}") : Object.fromEntries(new URLSearchParams(raw.toString("utf8")));
    const operation = isJson ? target.split(".")[1] : String(body.Action ?? "");
    this.requests.push({ operation, protocol: isJson ? "json" : "query", body, headers: req.headers, gzip });

    const fault = this.faults.shift();
    if (fault) return this.error(res, fault, `injected fault ${fault}`);
    if (!isJson) return this.error(res, 400, "the fake answers the JSON protocol only; query requests are recorded");
    if (!req.headers.authorization?.startsWith("AWS4-HMAC-SHA256 ")) return this.error(res, 400, "missing SigV4 signature");

    switch (operation) {
      case "PutMetricData":
        if (!body.Namespace || !Array.isArray(body.MetricData) || body.MetricData.length > 1000) return this.error(res, 400, "Namespace and 1–1000 MetricData required");
        return this.ok(res, {});
      case "PutMetricAlarm":
        this.alarms.set(body.AlarmName, body);
        return this.ok(res, {});
      case "PutDashboard":
        JSON.parse(body.DashboardBody); // the real service rejects a body that is not JSON
        this.dashboards.set(body.DashboardName, body);
        return this.ok(res, { DashboardValidationMessages: [] });
      case "DescribeAlarms":
        return this.ok(res, { MetricAlarms: [...this.alarms.values()], CompositeAlarms: [] });
      case "GetDashboard": {
        const d = this.dashboards.get(body.DashboardName);
        if (!d) return this.error(res, 404, "dashboard not found", "ResourceNotFound");
        return this.ok(res, { DashboardName: d.DashboardName, DashboardBody: d.DashboardBody, DashboardArn: `arn:aws:cloudwatch::000000000000:dashboard/${d.DashboardName}` });
      }
      default:
        return this.error(res, 400, `operation ${operation} is not faked`);
    }
  }

  private ok(res: http.ServerResponse, body: unknown): void {
    res.writeHead(200, { "content-type": "application/x-amz-json-1.0", "x-amzn-requestid": crypto.randomUUID() });
    res.end(JSON.stringify(body));
  }

  private error(res: http.ServerResponse, status: number, message: string, type?: string): void {
    const shape = ERRORS[status] ?? { type: type ?? "InternalServiceFault", query: `${type ?? "InternalServiceError"};Sender` };
    res.writeHead(status, { "content-type": "application/x-amz-json-1.0", "x-amzn-query-error": shape.query, "x-amzn-requestid": crypto.randomUUID() });
    res.end(JSON.stringify({ __type: `com.amazonaws.cloudwatch#${type ?? shape.type}`, message }));
  }
}
