// Sends events through the real SDKs, as a site owner's server would.
// usage: node send.mjs <posthog|segment> <base-url> <write-key> <count> <prefix>
import { PostHog } from 'posthog-node';
import { Analytics } from '@segment/analytics-node';

const [sdk, host, key, countText, prefix] = process.argv.slice(2);
const count = Number(countText);

if (sdk === 'posthog') {
  const client = new PostHog(key, { host, flushAt: 20, flushInterval: 0 });
  for (let i = 0; i < count; i++) {
    client.capture({ distinctId: `${prefix}-user-${i % 3}`, event: `${prefix} event`, properties: { index: i, sdk: 'posthog-node' } });
  }
  await client.shutdown();
} else if (sdk === 'segment') {
  const client = new Analytics({ writeKey: key, host, flushAt: 20, flushInterval: 100 });
  for (let i = 0; i < count; i++) {
    client.track({ userId: `${prefix}-user-${i % 3}`, event: `${prefix} event`, properties: { index: i, sdk: 'analytics-node' } });
  }
  await client.closeAndFlush({ timeout: 20000 });
} else {
  console.error(`unknown sdk ${sdk}`);
  process.exit(2);
}
console.log(`sent ${count} events with ${sdk}`);
