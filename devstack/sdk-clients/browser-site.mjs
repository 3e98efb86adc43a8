// A site's own script, as its developer writes it: the browser SDKs from npm, unmodified,
// bundled by esbuild (the Chromium tests build it), pointed at edge. The page sets
// window.SHOP = { edge: 'http://host:port', key: '<write key>' } first.
import posthog from 'posthog-js';
import { AnalyticsBrowser } from '@segment/analytics-next';

const { edge, key } = window.SHOP;
const url = new URL(edge);

posthog.init(key, { api_host: edge, defaults: '2025-05-24' });
posthog.capture('posthog-js signup', { plan: 'pro' });

const analytics = AnalyticsBrowser.load(
  { writeKey: key, cdnSettings: { integrations: { 'Segment.io': { apiKey: key } } } },
  {
    integrations: {
      'Segment.io': { apiHost: `${url.host}/v1`, protocol: url.protocol.replace(':', '') },
    },
  },
);
analytics.page();
analytics.track('analytics-next signup', { plan: 'pro' });
window.shopPosthog = posthog;
window.shopAnalytics = analytics;
