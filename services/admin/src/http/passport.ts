import { Passport } from 'passport';

/** One passport instance per admin API (never the global one). */
export type PassportInstance = InstanceType<typeof Passport>;

export function newPassport(): PassportInstance {
  return new Passport();
}
