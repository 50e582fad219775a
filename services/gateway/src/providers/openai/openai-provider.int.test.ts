import { type MockServer, startOpenAIMock } from '@kordon/mock-providers';
import { providerContract, REPLY_PREFIX } from '../provider-contract.js';
import { providerKey } from '../provider-types.js';
import { openAIProvider } from './openai-provider.js';

const KEY = 'sk-contract-openai-0123456789';

providerContract('openai (mock-providers)', async () => {
  const mock: MockServer = await startOpenAIMock({ keys: [KEY], frameDelayMs: 3 });
  return {
    adapter: openAIProvider,
    model: 'gpt-4o-mini',
    key: providerKey('pk-openai-1', KEY),
    origin: mock.url,
    config: (origin) => ({ baseUrl: `${origin}/v1` }),
    setScenario: (scenario) => mock.setScenario(scenario),
    expectedText: (prompt) => `${REPLY_PREFIX}${prompt}`,
    rateLimitHeaders: true,
    keepAliveComments: true,
    close: () => mock.close(),
  };
});
