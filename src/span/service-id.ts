/**
 * Service name → cluster uuid. There is exactly one mapping: UUIDv5 (SHA-1,
 * RFC 9562 §5.5) of the service name's UTF-8 bytes in SERVICE_NAMESPACE.
 * Every node derives the same cluster id from the same name without asking
 * anyone, so spans of one service land in one cluster of the span table.
 *
 * On the wire the service name travels in LNK_SPAN peer_label (2014 name
 * cl_label) and the instance name in pfs_label (fs_label); the cluster uuid
 * in peer_id.
 */
import { v5 as uuidv5 } from 'uuid';
import { DMSG_LABEL_SIZE } from '../wire/constants.ts';
import { InvalidArgumentError } from '../wire/errors.ts';

/**
 * Fixed namespace of dmsg-mesh service names (a random v4 chosen once).
 * Changing it changes every service's cluster id: never change it.
 */
export const SERVICE_NAMESPACE = 'f9092f2b-c3bf-45ee-bd6f-111e8554198a';

/** Labels are NUL-terminated in 128-byte fields. */
export const LABEL_MAX_BYTES = DMSG_LABEL_SIZE - 1;

const encoder = new TextEncoder();

/** Throws InvalidArgumentError unless `label` fits a 128-byte NUL-terminated label field. */
export function validateLabel(what: string, label: string): void {
  if (typeof label !== 'string') throw new InvalidArgumentError(`${what} must be a string, got ${typeof label}`);
  const bytes = encoder.encode(label);
  if (bytes.length > LABEL_MAX_BYTES) {
    throw new InvalidArgumentError(`${what} must be at most ${LABEL_MAX_BYTES} UTF-8 bytes, got ${bytes.length}`);
  }
  if (bytes.includes(0)) throw new InvalidArgumentError(`${what} must not contain NUL`);
}

/** The cluster uuid (LNK_SPAN peer_id) of a service name. */
export function serviceClusterId(serviceName: string): string {
  validateLabel('service name', serviceName);
  if (serviceName.length === 0) throw new InvalidArgumentError('service name must not be empty');
  return uuidv5(encoder.encode(serviceName), SERVICE_NAMESPACE);
}
