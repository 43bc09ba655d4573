/** Whether a service runs on some node right now (optional collaborators such as analytics or A/B tests). */
import type { ServiceBroker } from "moleculer";

export function isServiceAvailable(broker: ServiceBroker, name: string): boolean {
  return (broker.registry as unknown as { hasService(name: string): boolean }).hasService(name);
}
