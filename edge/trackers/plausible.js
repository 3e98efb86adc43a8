// A Plausible-compatible tracker, served by edge at /js/script.js and its variants
// (script.outbound-links.js, script.hash.local.js, ...). It sends what Plausible's script
// sends, to `data-api` or to the origin it was loaded from + /api/event. No cookies, no ids:
// the server makes a daily visitor id. Like Plausible's, it ignores automated browsers
// (navigator.webdriver, PhantomJS, Nightmare, Cypress).
(function (features) {
  'use strict';
  var location = window.location;
  var document = window.document;
  // `compat`: the tag has id="plausible" (for browsers without document.currentScript).
  var script = (features.compat && document.getElementById('plausible')) ||
    document.currentScript;
  if (!script) return;
  var attr = function (name) { return script.getAttribute(name); };
  var endpoint = attr('data-api') || new URL(script.src).origin + '/api/event';
  var domain = attr('data-domain') || location.hostname;

  function ignored(reason, options) {
    if (reason) console.warn('Ignoring Event: ' + reason);
    if (options && options.callback) options.callback();
  }

  // `event-<name>="<value>"` attributes of the script tag, under the call's own props (which
  // win), on every event, as Plausible's pageview-props does.
  function withScriptProps(props) {
    var merged = Object.assign({}, props);
    for (var i = 0; i < script.attributes.length; i++) {
      var attribute = script.attributes[i];
      var key = attribute.name.slice(6);
      if (attribute.name.indexOf('event-') === 0) merged[key] = merged[key] || attribute.value;
    }
    return merged;
  }

  // `exclusions`: the page's path (with its hash, under `hash`) against the tag's
  // `data-include` / `data-exclude` globs (`*` within a segment, `**` across), as Plausible does.
  function pathMatches(glob) {
    var path = location.pathname + (features.hash ? location.hash : '');
    var pattern = glob.trim().replace(/\*\*/g, '.*').replace(/([^.])\*/g, '$1[^\\s/]*');
    return new RegExp('^' + pattern + '/?$').test(path);
  }

  function excluded() {
    var include = attr('data-include');
    var exclude = attr('data-exclude');
    return (include && !include.split(',').some(pathMatches)) ||
      (exclude && exclude.split(',').some(pathMatches));
  }

  function trigger(name, options) {
    options = options || {};
    var local = /^localhost$|^127(\.[0-9]+){0,2}\.[0-9]+$|^\[::1?\]$/.test(location.hostname);
    if (!features.local && (local || location.protocol === 'file:')) {
      return ignored('localhost', options);
    }
    if (window._phantom || window.__nightmare || window.navigator.webdriver || window.Cypress) {
      return ignored(null, options);
    }
    if (features.exclusions && name === 'pageview' && excluded()) {
      return ignored('exclusion rule', options);
    }
    try {
      if (window.localStorage.plausible_ignore === 'true') return ignored(null, options);
    } catch (e) { /* storage unavailable */ }
    var payload = {
      n: name,
      // `u` (or `url`) redacts the page's address, as Plausible documents.
      u: new URL(options.u || options.url || location.href, location.href).href,
      d: domain,
      r: document.referrer || null
    };
    var props = options.props;
    if (features['pageview-props']) props = withScriptProps(props);
    if (props) payload.p = props;
    if (options.interactive === false) payload.i = false;
    // `revenue`: {currency, amount} of a goal, as Plausible sends it.
    if (features.revenue && options.revenue) payload.$ = options.revenue;
    if (features.hash) payload.h = 1;
    if (name === 'pageview') engagementStarts(payload);
    send(payload, options);
  }

  // text/plain keeps the request simple (no CORS preflight); keepalive lets it finish when
  // the page is left, as an outbound link's click does.
  function send(payload, options) {
    fetch(endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain' },
      body: JSON.stringify(payload),
      keepalive: true,
      credentials: 'omit'
    }).then(function (response) {
      if (options.callback) options.callback({ status: response.status });
    }, function () {
      if (options.callback) options.callback({ status: 0 });
    });
  }

  // Engagement, as Plausible's script tells it: how long the page view was looked at (the
  // page visible and focused) and how deep it was scrolled, sent when the page is hidden or
  // loses focus, and before the next page view of a single-page app; the time counted again
  // from zero after each, the scroll depth the deepest so far.
  var engagement = null;
  var deepest = 0;
  function pageHeight() {
    var body = document.body || {};
    var root = document.documentElement || {};
    return Math.max(body.scrollHeight || 0, body.offsetHeight || 0, body.clientHeight || 0,
      root.scrollHeight || 0, root.offsetHeight || 0, root.clientHeight || 0);
  }
  function scrolled() {
    var root = document.documentElement || {};
    var seen = window.innerHeight || root.clientHeight || 0;
    return (window.scrollY || root.scrollTop || 0) + seen;
  }
  function engagedMs() {
    return engagement.engaged + (engagement.since ? Date.now() - engagement.since : 0);
  }
  function sendEngagement() {
    if (!engagement) return;
    var engaged = engagedMs();
    if (engagement.told >= deepest && engaged < 3000) return;
    engagement.told = deepest;
    var payload = {
      n: 'engagement',
      sd: Math.round(deepest / Math.max(pageHeight(), 1) * 100),
      d: domain,
      u: engagement.u,
      p: engagement.p,
      e: engaged
    };
    if (features.hash) payload.h = 1;
    engagement.engaged = 0;
    engagement.since = 0;
    send(payload, {});
  }
  function engagementStarts(pageview) {
    sendEngagement();
    deepest = scrolled();
    engagement = { u: pageview.u, p: pageview.p, engaged: 0, since: Date.now(), told: -1 };
  }
  function attentionChanged() {
    if (!engagement) return;
    if (document.visibilityState === 'visible' && document.hasFocus()) {
      if (!engagement.since) engagement.since = Date.now();
    } else {
      engagement.engaged = engagedMs();
      engagement.since = 0;
      sendEngagement();
    }
  }
  document.addEventListener('visibilitychange', attentionChanged);
  window.addEventListener('blur', attentionChanged);
  window.addEventListener('focus', attentionChanged);
  window.addEventListener('scroll', function () {
    deepest = Math.max(deepest, scrolled());
  }, { passive: true });

  var queue = (window.plausible && window.plausible.q) || [];
  window.plausible = trigger;
  for (var i = 0; i < queue.length; i++) trigger.apply(this, queue[i]);

  // One pageview per page: a path (with the hash, under `hash`) counts once however many of
  // pushState, popstate and hashchange announce it.
  var lastPage;
  function page() {
    var current = location.pathname + (features.hash ? location.hash : '');
    if (lastPage === current) return;
    lastPage = current;
    trigger('pageview');
  }

  if (!features.manual) {
    var pushState = window.history.pushState;
    if (pushState) {
      window.history.pushState = function () {
        pushState.apply(this, arguments);
        page();
      };
      window.addEventListener('popstate', page);
    }
    if (features.hash) window.addEventListener('hashchange', page);
    if (document.visibilityState === 'prerender') {
      document.addEventListener('visibilitychange', function once() {
        if (document.visibilityState === 'visible' && !lastPage) {
          page();
          document.removeEventListener('visibilitychange', once);
        }
      });
    } else {
      page();
    }
  }

  var FILE_TYPES = ['pdf', 'xlsx', 'docx', 'txt', 'rtf', 'csv', 'exe', 'key', 'pps', 'ppt',
    'pptx', '7z', 'pkg', 'rar', 'gz', 'zip', 'avi', 'mov', 'mp4', 'mpeg', 'wmv', 'midi',
    'mp3', 'wav', 'wma', 'dmg'];
  var listed = attr('file-types') || attr('data-file-types');
  var added = attr('add-file-types') || attr('data-add-file-types');
  var fileTypes = (listed && listed.split(',')) ||
    (added && added.split(',').concat(FILE_TYPES)) || FILE_TYPES;

  function linkOf(element) {
    while (element && !(element.tagName && element.tagName.toLowerCase() === 'a' &&
      element.href)) {
      element = element.parentNode;
    }
    return element;
  }

  function isDownload(link) {
    var extension = link.pathname.split('.').pop().toLowerCase();
    return link.pathname.indexOf('.') !== -1 && fileTypes.indexOf(extension) !== -1;
  }

  function isOutbound(link) {
    return link.host && link.host !== location.host && /^https?:$/.test(link.protocol);
  }

  // A class `plausible-event-<key>=<value>` or `plausible-event-<key>--<value>`, `+` a space.
  var TAG = /^plausible-event-(.+?)(=|--)(.+)$/;

  function isTagged(element) {
    var classes = (element && element.classList) || [];
    for (var i = 0; i < classes.length; i++) {
      var match = classes[i].match(TAG);
      if (match && match[1].toLowerCase() === 'name') return true;
    }
    return false;
  }

  function tagOf(element) {
    var name = null;
    var props = {};
    for (var i = 0; i < element.classList.length; i++) {
      var match = element.classList[i].match(TAG);
      if (!match) continue;
      var value = match[3].replace(/\+/g, ' ');
      if (match[1].toLowerCase() === 'name') name = value;
      else props[match[1]] = value;
    }
    return { name: name, props: props };
  }

  // The clicked element or one of its 3 parents, tagged, as Plausible looks; a click inside
  // a form is none (only the form's submit counts). A tagged link's event has its `url`.
  function taggedClick(element) {
    var link = null;
    var tagged = null;
    for (var depth = 0; depth <= 3 && element; depth++, element = element.parentNode) {
      if (element.tagName && element.tagName.toLowerCase() === 'form') return null;
      if (!link && element.tagName && element.tagName.toLowerCase() === 'a' && element.href) {
        link = element;
      }
      if (!tagged && isTagged(element)) tagged = element;
    }
    if (!tagged) return null;
    var tag = tagOf(tagged);
    if (link) tag.props.url = link.href;
    return tag;
  }

  function onClick(event) {
    if (event.type === 'auxclick' && event.button !== 1) return;
    var link = linkOf(event.target);
    if (features['tagged-events']) {
      var tagged = taggedClick(event.target);
      if (tagged) {
        trigger(tagged.name, { props: tagged.props });
        return;
      }
    }
    if (!link) return;
    if (features['outbound-links'] && isOutbound(link)) {
      trigger('Outbound Link: Click', { props: { url: link.href } });
    } else if (features['file-downloads'] && isDownload(link)) {
      trigger('File Download', { props: { url: link.href.split('?')[0] } });
    }
  }

  if (features['outbound-links'] || features['file-downloads'] || features['tagged-events']) {
    document.addEventListener('click', onClick);
    document.addEventListener('auxclick', onClick);
  }
  if (features['tagged-events']) {
    document.addEventListener('submit', function (event) {
      if (!isTagged(event.target)) return;
      var tagged = tagOf(event.target);
      trigger(tagged.name, { props: tagged.props });
    });
  }
})(/*FEATURES*/{});
