/**
 * A small promise-based client for the gateway's services, built from the same .proto files: for tests,
 * benchmarks and scripts. (Other systems generate their own clients from proto/.) Messages are in
 * proto-loader's form, exactly what a client on the wire sees.
 */
import * as grpc from "@grpc/grpc-js";
import type { MethodDefinition, ServiceDefinition } from "@grpc/proto-loader";
import { loadProtos } from "./proto";
import { PROTO_FILES } from "./routes";

export type Message = Record<string, any>;

export interface RpcOptions {
  /** Sent as `authorization: Bearer <token>`. */
  token?: string;
  deadline?: grpc.Deadline;
  /** Sent as `x-request-id` metadata: the request id the services (and audit records) see. */
  requestId?: string;
}

export class GatewayClient {
  private readonly client: grpc.Client;
  private readonly methods: ServiceDefinition;

  constructor(address: string, serviceName = "marketing.v1.CampaignService", files: readonly string[] = PROTO_FILES) {
    const service = loadProtos(files)[serviceName];
    if (!service || "format" in service) throw new Error(`${serviceName} is not a service of ${files.join(", ")}`);
    this.methods = service as ServiceDefinition;
    this.client = new grpc.Client(address, grpc.credentials.createInsecure());
  }

  unary(method: string, request: Message, opts: RpcOptions = {}): Promise<Message> {
    const m = this.method(method);
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(m.path, m.requestSerialize, m.responseDeserialize, request, metadataOf(opts), callOptions(opts), (err, res) =>
        err ? reject(err) : resolve(res as Message),
      );
    });
  }

  serverStream(method: string, request: Message, opts: RpcOptions = {}): grpc.ClientReadableStream<Message> {
    const m = this.method(method);
    return this.client.makeServerStreamRequest(m.path, m.requestSerialize, m.responseDeserialize, request, metadataOf(opts), callOptions(opts));
  }

  /**
   * A client-streaming call: write messages to `stream` (write returns false when the server is behind:
   * wait for "drain"), end it, and `response` settles with the answer or the status error.
   */
  clientStream(method: string, opts: RpcOptions = {}): { stream: grpc.ClientWritableStream<Message>; response: Promise<Message> } {
    const m = this.method(method);
    let stream!: grpc.ClientWritableStream<Message>;
    const response = new Promise<Message>((resolve, reject) => {
      stream = this.client.makeClientStreamRequest(m.path, m.requestSerialize, m.responseDeserialize, metadataOf(opts), callOptions(opts), (err, res) =>
        err ? reject(err) : resolve(res as Message),
      );
    });
    return { stream, response };
  }

  close(): void {
    this.client.close();
  }

  private method(name: string): MethodDefinition<Message, Message> {
    const m = this.methods[name];
    if (!m) throw new Error(`no method ${name}`);
    return m as MethodDefinition<Message, Message>;
  }
}

function metadataOf(opts: RpcOptions): grpc.Metadata {
  const metadata = new grpc.Metadata();
  if (opts.token) metadata.set("authorization", `Bearer ${opts.token}`);
  if (opts.requestId) metadata.set("x-request-id", opts.requestId);
  return metadata;
}

function callOptions(opts: RpcOptions): grpc.CallOptions {
  return opts.deadline === undefined ? {} : { deadline: opts.deadline };
}
