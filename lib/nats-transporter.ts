/**
 * Moleculer's NATS transporter, with its connection state kept true to the NATS connection.
 *
 * Moleculer's own only logs nats.js' status changes: while nats.js reconnects the transporter still says
 * "connected" and nats.js buffers whatever is published meanwhile, so every call to another node waited its
 * whole timeout and /health/ready kept answering 200. Here a lost connection marks the transporter (and
 * transit) disconnected: calls to other nodes fail at once with BrokerDisconnectedError (REST 503,
 * gRPC UNAVAILABLE) and readiness reports it. Once nats.js is back (it re-subscribes by itself), the node
 * announces itself again, as Moleculer's other transporters do after a reconnect.
 */
import { Transporters } from "moleculer";

interface NatsStatus {
  type: string;
  data?: unknown;
}

interface NatsClient {
  status(): AsyncIterable<NatsStatus>;
}

export class NatsTransporter extends Transporters.NATS {
  async connect(): Promise<void> {
    await super.connect();
    void this.followStatus(this.client as NatsClient);
  }

  private async followStatus(client: NatsClient): Promise<void> {
    try {
      for await (const status of client.status()) {
        // A client replaced by a later connect() (or closed) is no longer ours to report on.
        if (this.client !== client) return;
        if (status.type === "disconnect" && this.connected) {
          this.connected = false;
          this.transit.connected = false;
          this.logger.warn(`NATS connection lost (${String(status.data)}); calls to other nodes fail until it is back.`);
          this.broker.broadcastLocal("$transporter.disconnected", { graceFul: false });
        } else if (status.type === "reconnect") {
          this.logger.info(`NATS reconnected (${String(status.data)}).`);
          // connected = true, then transit sends this node's INFO and asks for everyone else's.
          await this.onConnected(true).catch((err: unknown) => this.logger.warn("Announcing this node after the reconnect failed", err));
        }
      }
    } catch (err) {
      this.logger.warn("NATS status stream ended", err);
    }
  }
}
