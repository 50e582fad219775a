import { type MockServer, startGeminiMock } from '@kordon/mock-providers';
import { providerContract, REPLY_PREFIX } from '../provider-contract.js';
import { providerKey } from '../provider-types.js';
import { geminiProvider } from './gemini-provider.js';

const KEY = 'AIzaContractKey0123456789abcdef';

providerContract('gemini (mock-providers)', async () => {
  const mock: MockServer = await startGeminiMock({ keys: [KEY], frameDelayMs: 3 });
  return {
    adapter: geminiProvider,
    model: 'gemini-2.5-flash',
    key: providerKey('pk-gemini-1', KEY),
    origin: mock.url,
    config: (origin) => ({ baseUrl: origin }),
    setScenario: (scenario) => mock.setScenario(scenario),
    expectedText: (prompt) => `${REPLY_PREFIX}${prompt}`,
    rateLimitHeaders: {
      skip: 'the Gemini API sends no rate-limit headers (its 429 carries a RetryInfo detail)',
    },
    keepAliveComments: true,
    close: () => mock.close(),
  };
});
