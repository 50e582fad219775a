import { type KordonEventData, kordonCatalogue, PricesSet, streams } from '@kordon/events';
import { PriceBook } from '@kordon/gateway';
import { z } from 'zod';
import { etag, execute } from '../../commands/execute.js';
import { pricesDecider } from '../../deciders/prices.js';
import { AdminError } from '../../errors.js';
import { metadataOf, orgOf } from '../helpers.js';
import { route } from '../route.js';
import { orgParams } from '../schemas.js';

const Price = PricesSet.schema.shape.prices.element.meta({ id: 'Price' });
const Prices = z.object({ items: z.array(Price) }).meta({ id: 'Prices' });
const SetPricesBody = z
  .strictObject({ prices: PricesSet.schema.shape.prices })
  .meta({ id: 'SetPricesBody', description: "The org's whole price list; it replaces the previous one." });

/**
 * The org's current prices, read from its stream (the last PricesSet, decoded: a v1 event is
 * upcast), and the stream's version: the ETag a PUT's If-Match takes, so a read-edit-write
 * loses no one else's change.
 */
async function currentPrices(ctx: Parameters<Parameters<typeof route>[0]['handler']>[0], orgId: string) {
  const events = await ctx.deps.store.readStream(streams.org(orgId));
  const last = events.filter((e) => e.type === 'PricesSet').at(-1);
  const prices: KordonEventData<'PricesSet'>['prices'] =
    last === undefined ? [] : (kordonCatalogue.decode(last).data as KordonEventData<'PricesSet'>).prices;
  return { prices, version: events.at(-1)?.streamVersion ?? 0 };
}

export const priceRoutes = [
  route({
    operationId: 'getPrices',
    method: 'get',
    path: '/orgs/{org}/prices',
    tag: 'prices',
    summary: "The org's own prices (over the shipped price table), per model, with when each applies",
    access: 'price.read',
    params: orgParams,
    responses: { 200: { description: 'The price list', schema: Prices } },
    handler: async (ctx) => {
      const org = orgOf(ctx);
      const { prices, version } = await currentPrices(ctx, org.orgId);
      return {
        status: 200,
        body: { items: prices },
        headers: { ETag: etag(version) },
      };
    },
  }),
  route({
    operationId: 'setPrices',
    method: 'put',
    path: '/orgs/{org}/prices',
    tag: 'prices',
    summary: "Replace the org's own prices (negotiated rates, models the shipped table lacks)",
    access: 'price.manage',
    params: orgParams,
    body: SetPricesBody,
    responses: { 200: { description: 'The price list as set', schema: Prices } },
    handler: async (ctx) => {
      const org = orgOf(ctx);
      // Refused now rather than ignored at request time (its model unpriced, or every price).
      const problems = PriceBook.listProblems(ctx.body.prices);
      if (problems.length > 0) {
        throw new AdminError('validation_failed', 'some prices cannot price their model', {
          errors: problems.map(({ index, message }) => ({
            path: index === null ? 'body.prices' : `body.prices.${index}`,
            message,
          })),
        });
      }
      const { version } = await execute(
        ctx.deps.bus,
        pricesDecider,
        streams.org(org.orgId),
        { type: 'SetPrices', prices: ctx.body.prices },
        metadataOf(ctx, org.orgId),
        { ifMatch: ctx.ifMatch },
      );
      return { status: 200, body: { items: ctx.body.prices }, headers: { ETag: etag(version) } };
    },
  }),
];
