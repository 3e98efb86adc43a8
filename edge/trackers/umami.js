// An Umami-compatible tracker, served by edge at /script.js. It sends Umami's payload
// ({type, payload: {website, hostname, url, referrer, title, screen, language, ...}}) to
// `data-host-url` or to the origin it was loaded from + /api/send. No cookies, no ids: the
// server makes a daily visitor id. Like Umami's, it honours Do Not Track only with
// data-do-not-track="true", and `localStorage['umami.disabled']` turns it off.
(function (window) {
  'use strict';
  var document = window.document;
  var location = window.location;
  var navigator = window.navigator;
  var script = document.currentScript;
  if (!script) return;
  var attr = function (name) { return script.getAttribute('data-' + name); };
  var website = attr('website-id');
  var hostUrl = attr('host-url');
  var tag = attr('tag') || undefined;
  var autoTrack = attr('auto-track') !== 'false';
  var doNotTrack = attr('do-not-track') === 'true';
  var excludeSearch = attr('exclude-search') === 'true';
  var excludeHash = attr('exclude-hash') === 'true';
  var beforeSend = attr('before-send');
  var domainList = attr('domains') || '';
  var domains = domainList.split(',').map(function (d) { return d.trim(); });
  var host = hostUrl || new URL(script.src).origin;
  var endpoint = host.replace(/\/$/, '') + '/api/send';
  var screen = window.screen.width + 'x' + window.screen.height;

  function cleanUrl(url) {
    var parsed = new URL(url, location.href);
    if (excludeSearch) parsed.search = '';
    if (excludeHash) parsed.hash = '';
    return parsed.toString();
  }

  var currentUrl = cleanUrl(location.href);
  var currentRef = document.referrer.indexOf(location.origin) === 0 ? '' : document.referrer;
  var identity;
  var disabled = false;

  function payload() {
    return {
      website: website,
      screen: screen,
      language: navigator.language,
      title: document.title,
      hostname: location.hostname,
      url: currentUrl,
      referrer: currentRef,
      tag: tag,
      id: identity
    };
  }

  function dntSet() {
    var dnt = window.doNotTrack || navigator.doNotTrack || navigator.msDoNotTrack;
    return dnt === 1 || dnt === '1' || dnt === 'yes';
  }

  function trackingDisabled() {
    var off = false;
    try { off = !!window.localStorage.getItem('umami.disabled'); } catch (e) { /* none */ }
    return disabled || !website || off ||
      (domainList && domains.indexOf(location.hostname) === -1) ||
      (doNotTrack && dntSet());
  }

  // `data-before-send="<name>"`: as Umami does, `window[name](type, payload)` sends what it
  // returns, nothing when that is falsy.
  function send(body, type) {
    if (trackingDisabled()) return Promise.resolve();
    type = type || 'event';
    var callback = beforeSend && window[beforeSend];
    if (typeof callback === 'function') body = callback(type, body);
    if (!body) return Promise.resolve();
    return fetch(endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ type: type, payload: body }),
      keepalive: true,
      credentials: 'omit'
    }).then(function (response) {
      return response.json();
    }).then(function (answer) {
      if (answer && answer.disabled) disabled = true;
      return answer;
    }, function () { /* dropped, as Umami drops it */ });
  }

  function track(what, data) {
    if (typeof what === 'string') {
      var named = payload();
      named.name = what;
      named.data = data;
      return send(named);
    }
    // Umami sends an object as it is; here it goes over the page's payload, so that it needs
    // no website id or hostname of its own.
    if (typeof what === 'object' && what) return send(Object.assign(payload(), what));
    if (typeof what === 'function') return send(what(payload()));
    return send(payload());
  }

  function identify(id, data) {
    if (typeof id === 'string') identity = id;
    var body = payload();
    body.data = typeof id === 'object' ? id : data;
    return send(body, 'identify');
  }

  function onNavigate(state, title, url) {
    if (!url) return;
    var previous = currentUrl;
    currentUrl = cleanUrl(url);
    if (currentUrl !== previous) {
      currentRef = previous;
      setTimeout(track, 300);
    }
  }

  function hook(method) {
    var original = window.history[method];
    window.history[method] = function (state, title, url) {
      onNavigate(state, title, url);
      return original.apply(this, arguments);
    };
  }

  function trackElement(element) {
    var name = element.getAttribute('data-umami-event');
    if (!name) return Promise.resolve();
    var data = {};
    element.getAttributeNames().forEach(function (attribute) {
      var match = attribute.match(/^data-umami-event-([\w-]+)$/);
      if (match) data[match[1]] = element.getAttribute(attribute);
    });
    return track(name, data);
  }

  function onClick(event) {
    var element = event.target.closest ? event.target.closest('a,button') : null;
    if (!element) {
      trackElement(event.target);
      return;
    }
    if (!element.getAttribute('data-umami-event')) return;
    if (element.tagName === 'A' && element.href) {
      var external = element.target === '_blank' || event.ctrlKey || event.shiftKey ||
        event.metaKey || event.button === 1;
      if (!external) event.preventDefault();
      trackElement(element).then(function () {
        if (!external) {
          (element.target === '_top' ? window.top.location : location).href = element.href;
        }
      });
      return;
    }
    trackElement(element);
  }

  var initialized = false;
  function init() {
    if (initialized || document.readyState !== 'complete') return;
    initialized = true;
    track();
    hook('pushState');
    hook('replaceState');
    document.addEventListener('click', onClick, true);
  }

  if (!window.umami) window.umami = { track: track, identify: identify };
  if (autoTrack && !trackingDisabled()) {
    if (document.readyState === 'complete') init();
    else document.addEventListener('readystatechange', init, true);
  }
})(window);
