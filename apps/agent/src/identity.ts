import { chmodSync, existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BlinkNetError } from '@blinknet/core';
import { writeFileAtomic } from '@blinknet/onnx';

/** Who this device is to the planner, persisted in the data dir after the first registration. */
export interface DeviceIdentity {
  readonly deviceId: string;
  readonly token: string;
  readonly deviceClass: string;
  readonly name: string;
}

/** Thrown when the agent must register but has no enrollment secret, or its identity file is unreadable. */
export class IdentityError extends BlinkNetError {
  override readonly name = 'IdentityError';
}

export const IDENTITY_FILE = 'identity.json';

/**
 * The device's identity: read from `<dataDir>/identity.json` when it exists for the same class and
 * name, else obtained from `register` (the planner's Register call) and saved with mode 0600 — the
 * token is a credential.
 */
export async function loadOrRegister(
  dataDir: string,
  wanted: { deviceClass: string; name: string; enrollmentSecret?: string },
  register: (secret: string) => Promise<{ deviceId: string; token: string }>,
): Promise<{ identity: DeviceIdentity; registered: boolean }> {
  const path = join(dataDir, IDENTITY_FILE);
  if (existsSync(path)) {
    let saved: DeviceIdentity;
    try {
      saved = JSON.parse(readFileSync(path, 'utf8')) as DeviceIdentity;
    } catch (error) {
      throw new IdentityError(
        `${path} is not valid JSON (${(error as Error).message}); remove it to register again`,
      );
    }
    if (!saved.token || !saved.deviceId) {
      throw new IdentityError(`${path} lacks deviceId or token; remove it to register again`);
    }
    // Tighten a file someone loosened: the token must not be readable by others.
    if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
    if (saved.deviceClass === wanted.deviceClass && saved.name === wanted.name) {
      return { identity: saved, registered: false };
    }
  }
  if (!wanted.enrollmentSecret) {
    throw new IdentityError(
      'this device is not registered (or its class or name changed): set BLINKNET_ENROLLMENT_SECRET or --enrollment-secret',
    );
  }
  const { deviceId, token } = await register(wanted.enrollmentSecret);
  const identity = { deviceId, token, deviceClass: wanted.deviceClass, name: wanted.name };
  writeFileAtomic(path, Buffer.from(JSON.stringify(identity, null, 2)), 0o600);
  return { identity, registered: true };
}
