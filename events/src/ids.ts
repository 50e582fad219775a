import { validate as uuidValidate, v7 as uuidv7 } from 'uuid';

/** Time-ordered event and request ids (UUIDv7): sortable, index-friendly, unguessable. */
export function newEventId(): string {
  return uuidv7();
}

export function isUuid(value: string): boolean {
  return uuidValidate(value);
}
