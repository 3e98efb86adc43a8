// A site's own script measuring engagement, as its developer writes it: Plausible's tracker
// and posthog-js from npm, unmodified, bundled by esbuild (the Chromium tests build it),
// pointed at edge. The page sets window.SHOP = { edge: 'http://host:port', key: '<write key>',
// domain: '<site>' } first.
import { init } from '@plausible-analytics/tracker';
import posthog from 'posthog-js';

const { edge, key, domain } = window.SHOP;

init({ domain, endpoint: `${edge}/api/event` });
posthog.init(key, { api_host: edge, defaults: '2025-05-24' });
window.shopPosthog = posthog;
