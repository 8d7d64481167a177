/**
 * The contract's status-to-flag table. The flag tells DACS the device's actual state at the head end.
 *
 * | expected   | reported               | flag | error | note                                   |
 * |------------|------------------------|------|-------|----------------------------------------|
 * | REGISTER   | REGISTERED             | D1RE | no    |                                        |
 * | REGISTER   | FAILED                 | D1NR | yes   |                                        |
 * | REGISTER   | none / PENDING         | D1NR | yes   | message names the deadline             |
 * | REGISTER   | DEREGISTERED           | D1DR | yes   | mismatch: the head end says what it is |
 * | DEREGISTER | DEREGISTERED           | D1DR | no    |                                        |
 * | DEREGISTER | FAILED                 | D1RE | yes   | still registered                       |
 * | DEREGISTER | none / PENDING         | D1NR | yes   | unknown, message names the deadline    |
 * | DEREGISTER | REGISTERED             | D1RE | yes   | mismatch: the head end says what it is |
 *
 * The two mismatch rows are not in the contract. Because the flag is "the device's actual state at the
 * head end", a reported REGISTERED/DEREGISTERED is trusted for the flag, and the disagreement with the
 * requested action counts as an error.
 */
import type { HeadEndFlag, RegistrationAction, RegistrationStatus } from './types.ts';

export const FLAGS = {
  REGISTERED: 'D1RE',
  DEREGISTERED: 'D1DR',
  NOT_REGISTERED: 'D1NR',
} as const satisfies Record<string, HeadEndFlag>;

/** DACS field limits. */
export const LIMITS = { COMMENTS: 254, DEVICE_MESSAGE: 2000, PARAMETER: 2000 } as const;

/** A status that ends a device's registration (every status but PENDING). */
export function isTerminal(
  status: RegistrationStatus | undefined,
): status is Exclude<RegistrationStatus, 'PENDING'> {
  return status !== undefined && status !== 'PENDING';
}

export interface FlagDecision {
  readonly flag: HeadEndFlag;
  readonly isError: boolean;
}

/** The table above, without messages. `undefined` (no status) and PENDING both mean "none by the deadline". */
export function flagFor(
  expected: RegistrationAction,
  reported: RegistrationStatus | undefined,
): FlagDecision {
  if (reported === 'REGISTERED') return { flag: FLAGS.REGISTERED, isError: expected !== 'REGISTER' };
  if (reported === 'DEREGISTERED') return { flag: FLAGS.DEREGISTERED, isError: expected !== 'DEREGISTER' };
  if (reported === 'FAILED') {
    // A failed registration leaves the device unregistered; a failed deregistration leaves it registered.
    return { flag: expected === 'REGISTER' ? FLAGS.NOT_REGISTERED : FLAGS.REGISTERED, isError: true };
  }
  return { flag: FLAGS.NOT_REGISTERED, isError: true };
}

export interface DeviceAssessment extends FlagDecision {
  /** The DACS `message`, at most {@link LIMITS.DEVICE_MESSAGE} characters. */
  readonly message: string;
}

export interface AssessOptions {
  /** The deadline as UTC ISO, named in the message of a device without a terminal status. */
  readonly deadline: string;
  /** What DERMS said about the device, appended to the message. */
  readonly reportedMessage?: string | undefined;
  /** The consolidation was triggered by DERMS' final ack rather than the deadline. */
  readonly finalAck?: boolean;
  /**
   * DERMS refused the enrollment sync (its answer): the device is assessed as having no status, whatever
   * was reported, and the message says why.
   */
  readonly refusal?: string | undefined;
}

/** Flag, error and the message DACS shows, for one device. */
export function assessDevice(
  expected: RegistrationAction,
  reported: RegistrationStatus | undefined,
  options: AssessOptions,
): DeviceAssessment {
  if (options.refusal !== undefined) return refusedDevice(expected, options.refusal);
  const decision = flagFor(expected, reported);
  const what = expected === 'REGISTER' ? 'registration' : 'deregistration';
  const missing = options.finalAck
    ? `DERMS sent its final acknowledgement without a ${what} status (deadline ${options.deadline})`
    : `no ${what} status received by the deadline ${options.deadline}`;
  let base: string;
  switch (reported) {
    case 'REGISTERED':
      base =
        expected === 'REGISTER'
          ? 'Registered at the head end'
          : 'Deregistration requested but the head end reports the device registered';
      break;
    case 'DEREGISTERED':
      base =
        expected === 'DEREGISTER'
          ? 'Deregistered at the head end'
          : 'Registration requested but the head end reports the device deregistered';
      break;
    case 'FAILED':
      base =
        expected === 'REGISTER'
          ? 'Registration failed at the head end; the device is not registered'
          : 'Deregistration failed at the head end; the device is still registered';
      break;
    case 'PENDING':
      base =
        expected === 'REGISTER'
          ? `Not registered: ${what} still pending, ${missing}`
          : `Head-end registration state unknown: ${what} still pending, ${missing}`;
      break;
    default:
      base =
        expected === 'REGISTER'
          ? `Not registered: ${missing}`
          : `Head-end registration state unknown: ${missing}`;
  }
  const detail = options.reportedMessage ? `${base}. DERMS: ${options.reportedMessage}` : base;
  return { ...decision, message: truncate(detail, LIMITS.DEVICE_MESSAGE) };
}

/** A device of an enrollment sync DERMS refused: its flag for "no status", the message naming DERMS's answer. */
function refusedDevice(expected: RegistrationAction, refusal: string): DeviceAssessment {
  const base = expected === 'REGISTER' ? 'Not registered' : 'Head-end registration state unknown';
  const text = `${base}: DERMS refused the enrollment sync${refusal ? ` (${refusal})` : ''}`;
  return { ...flagFor(expected, undefined), message: truncate(text, LIMITS.DEVICE_MESSAGE) };
}

/**
 * Cuts `text` to at most `max` UTF-16 code units, ending with an ellipsis when cut, and never splitting a
 * surrogate pair.
 */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = max - 1;
  const code = text.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut -= 1;
  return `${text.slice(0, cut)}…`;
}
