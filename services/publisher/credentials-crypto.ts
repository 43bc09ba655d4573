/**
 * AES-256-GCM sealing of platform credentials. Each sealed value names the key that sealed it, so keys
 * rotate: the first key seals new writes, any listed key still opens older rows. The owner and platform are
 * bound in as additional data, so a row copied to another owner or platform does not open.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";

export interface CredentialKey {
  id: string;
  key: Buffer;
}

export interface Sealed {
  keyId: string;
  iv: string;
  ciphertext: string;
  tag: string;
}

export class CredentialCipher {
  private readonly byId: Map<string, Buffer>;

  constructor(private readonly keys: readonly CredentialKey[]) {
    if (!keys.length) throw new Error("at least one credential key is needed");
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  get currentKeyId(): string {
    return this.keys[0].id;
  }

  seal(secrets: Record<string, string>, owner: string, platform: string): Sealed {
    const iv = crypto.randomBytes(12);
    const cipher = crypto.createCipheriv("aes-256-gcm", this.keys[0].key, iv);
    cipher.setAAD(aad(owner, platform));
    const ciphertext = Buffer.concat([cipher.update(JSON.stringify(secrets), "utf8"), cipher.final()]);
    return { keyId: this.keys[0].id, iv: iv.toString("base64"), ciphertext: ciphertext.toString("base64"), tag: cipher.getAuthTag().toString("base64") };
  }

  /** Throws when the key is unknown or the data was tampered with; the message never includes secrets. */
  open(sealed: Sealed, owner: string, platform: string): Record<string, string> {
    const key = this.byId.get(sealed.keyId);
    if (!key) throw new Error(`credentials were sealed with key "${sealed.keyId}", which is no longer configured`);
    const decipher = crypto.createDecipheriv("aes-256-gcm", key, Buffer.from(sealed.iv, "base64"));
    decipher.setAAD(aad(owner, platform));
    decipher.setAuthTag(Buffer.from(sealed.tag, "base64"));
    const plain = Buffer.concat([decipher.update(Buffer.from(sealed.ciphertext, "base64")), decipher.final()]);
    return JSON.parse(plain.toString("utf8"));
  }
}

function aad(owner: string, platform: string): Buffer {
  return Buffer.from(`${owner}\u0000${platform}`, "utf8");
}

/**
 * Embedded mode without CREDENTIALS_KEY(S): a key generated once into the data folder (mode 0600), like the
 * JWT dev secret. Distributed deployments must configure keys so every node shares them.
 */
export function embeddedKey(dataDir: string): CredentialKey {
  const file = path.join(dataDir, "credentials.key");
  fs.mkdirSync(dataDir, { recursive: true });
  if (!fs.existsSync(file)) {
    try {
      fs.writeFileSync(file, crypto.randomBytes(32).toString("base64"), { mode: 0o600, flag: "wx" });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
  return { id: "local", key: Buffer.from(fs.readFileSync(file, "utf8").trim(), "base64") };
}
