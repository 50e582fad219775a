import { type MockServer, startAnthropicMock } from '@kordon/mock-providers';
import { providerContract, REPLY_PREFIX } from '../provider-contract.js';
import { providerKey } from '../provider-types.js';
import { anthropicProvider } from './anthropic-provider.js';

const KEY = 'sk-ant-contract-0123456789';

providerContract('anthropic (mock-providers)', async () => {
  const mock: MockServer = await startAnthropicMock({ keys: [KEY], frameDelayMs: 3 });
  return {
    adapter: anthropicProvider,
    model: 'claude-sonnet-4-5',
    key: providerKey('pk-anthropic-1', KEY),
    origin: mock.url,
    config: (origin) => ({ baseUrl: origin }),
    setScenario: (scenario) => mock.setScenario(scenario),
    expectedText: (prompt) => `${REPLY_PREFIX}${prompt}`,
    rateLimitHeaders: true,
    keepAliveComments: true,
    close: () => mock.close(),
  };
});
