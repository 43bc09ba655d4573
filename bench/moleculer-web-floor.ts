/**
 * The floor under any moleculer-web gateway, for bench/rest-vs-bare.ts: a broker with nothing else
 * (no metrics, cacher, validator, authentication, database) and one action that returns the bare
 * server's JSON through one alias. Whatever the real gateway adds sits on top of this.
 * Usage: tsx bench/moleculer-web-floor.ts <port>   (prints "mode: floor" when listening)
 */
import { ServiceBroker } from "moleculer";
import ApiGateway from "moleculer-web";

const port = Number(process.argv[2]);
const broker = new ServiceBroker({ logger: false, metrics: false, tracing: false, validator: false });
broker.createService({
  name: "campaigns",
  actions: { get: (ctx) => ({ id: (ctx.params as { id: string }).id, name: "Summer PPV", status: "draft" }) },
});
broker.createService({
  name: "api",
  mixins: [ApiGateway],
  settings: { port, ip: "127.0.0.1", logRequest: null, logResponse: null, routes: [{ path: "/api", mappingPolicy: "restrict", aliases: { "GET campaigns/:id": "campaigns.get" } }] },
});
broker.start().then(() => console.log("mode: floor"));
