/** Why an export was not given a slot: every slot is taken, or the org holds its share. */
export type ExportSlotRefusal = 'full' | 'org';

/**
 * A cap on the exports of one process that read at once. An export that reads one snapshot
 * holds a database connection while it reads (on PostgreSQL, one of the pool that event appends
 * share; on the embedded store, its only one), so exports started together (a person clicking
 * again, several orgs at month end) could take every connection and stall everything else. At
 * most `limit` read at once, and at most `perOrgLimit` of them for one org, so one org cannot
 * hold every slot while another waits. Past either, an export is refused at once (never queued:
 * a queued export would hold its client and its time limit while it waits). A slot is held
 * while the snapshot is read, not while the client downloads the spilled file.
 */
export class ExportSlots {
  readonly limit: number;
  readonly perOrgLimit: number;
  #taken = 0;
  readonly #byOrg = new Map<string, number>();

  constructor(limit: number, perOrgLimit: number) {
    for (const [name, value] of [
      ['limit', limit],
      ['perOrgLimit', perOrgLimit],
    ] as const)
      if (!Number.isInteger(value) || value < 1)
        throw new Error(`export slots: ${name} must be a whole number of at least 1 (${value})`);
    this.limit = limit;
    this.perOrgLimit = Math.min(perOrgLimit, limit);
  }

  /** Exports reading now (all, or one org's). */
  taken(orgId?: string): number {
    return orgId === undefined ? this.#taken : (this.#byOrg.get(orgId) ?? 0);
  }

  /**
   * A slot for an export of `orgId`, with the function that frees it (once; calling it again
   * does nothing), or why there is none.
   */
  take(orgId: string): { release: () => void } | { refused: ExportSlotRefusal } {
    if (this.#taken >= this.limit) return { refused: 'full' };
    const held = this.#byOrg.get(orgId) ?? 0;
    if (held >= this.perOrgLimit) return { refused: 'org' };
    this.#taken += 1;
    this.#byOrg.set(orgId, held + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.#taken -= 1;
        const left = (this.#byOrg.get(orgId) ?? 1) - 1;
        if (left > 0) this.#byOrg.set(orgId, left);
        else this.#byOrg.delete(orgId);
      },
    };
  }
}
