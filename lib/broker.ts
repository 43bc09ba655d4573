/** Builds a broker with its runtime and the chosen services; used by the runner, tests and benchmarks. */
import { ServiceBroker, type BrokerOptions } from "moleculer";
import { brokerOptions } from "../moleculer.config";
import type { Config } from "./config";
import { attachRuntime } from "./runtime";
import { SERVICE_NAMES, SERVICE_SCHEMAS } from "../services";

export function createBroker(config: Config, overrides: Partial<BrokerOptions> = {}): ServiceBroker {
  const names = config.services.length ? config.services : SERVICE_NAMES;
  const unknown = names.filter((n) => !SERVICE_SCHEMAS[n]);
  if (unknown.length) {
    throw new Error(`SERVICES names unknown services: ${unknown.join(", ")} (known: ${SERVICE_NAMES.join(", ")})`);
  }
  const options = brokerOptions(config);
  const broker = new ServiceBroker({
    ...options,
    ...overrides,
    // Close the database and Agenda after every service has stopped.
    async stopped(b) {
      await runtime.close();
      await options.stopped?.(b);
    },
  });
  const runtime = attachRuntime(broker, config);
  for (const name of names) broker.createService(SERVICE_SCHEMAS[name]);
  return broker;
}
