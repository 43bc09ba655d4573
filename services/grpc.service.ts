/** gRPC gateway — being written. */
import type { ServiceSchema } from "moleculer";

const GrpcService: ServiceSchema = { name: "grpc" };
export default GrpcService;
