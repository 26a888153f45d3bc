// mush-on-kube web client: one WebSocket, one text frame per line; frames starting with
// U+0001 carry GMCP ("Package.Message" and JSON). See docs/web-client.md.
'use strict';
(() => {
  const GMCP = '\u0001';
  const MAX_LINES = 5000;
  const MAX_HISTORY = 200;
  const TOKEN_KEY = 'mush.resume';
  const $ = (id) => document.getElementById(id);
  const out = $('output');
  const input = $('input');
  const login = $('login');
  const banner = $('banner');
  const status = $('status');
  const echo = $('echo');
  const multiline = $('multiline');
  const themeButton = $('theme');

  const state = {
    ws: null,
    open: false,
    loggedIn: false,
    ended: false,
    retries: 0,
    hold: 0,
    token: sessionStorage.getItem(TOKEN_KEY),
    history: [],
    at: 0,
    draft: '',
    firstScreenAt: null,
    resumes: 0,
  };

  // ---- themes: the system's preference until the player picks one ----
  const prefersDark = window.matchMedia('(prefers-color-scheme: dark)');
  function effectiveTheme() {
    return document.documentElement.dataset.theme || (prefersDark.matches ? 'dark' : 'light');
  }
  function showThemeButton() {
    const next = effectiveTheme() === 'dark' ? 'light' : 'dark';
    themeButton.textContent = next === 'dark' ? 'Dark theme' : 'Light theme';
    themeButton.setAttribute('aria-label', `Switch to the ${next} theme`);
  }
  const savedTheme = localStorage.getItem('mush.theme');
  if (savedTheme === 'dark' || savedTheme === 'light') document.documentElement.dataset.theme = savedTheme;
  showThemeButton();
  prefersDark.addEventListener('change', showThemeButton);
  themeButton.addEventListener('click', () => {
    const next = effectiveTheme() === 'dark' ? 'light' : 'dark';
    document.documentElement.dataset.theme = next;
    localStorage.setItem('mush.theme', next);
    showThemeButton();
  });

  // ---- ANSI: SGR colours (16, 256, truecolor), bold, underline, italic, inverse ----
  const attr = { fg: null, bg: null, bold: false, underline: false, italic: false, inverse: false };
  function resetAttr() {
    Object.assign(attr, { fg: null, bg: null, bold: false, underline: false, italic: false, inverse: false });
  }
  function cube(n) {
    if (n >= 232) { const v = 8 + (n - 232) * 10; return `rgb(${v},${v},${v})`; }
    const i = n - 16;
    const c = (v) => (v === 0 ? 0 : 55 + v * 40);
    return `rgb(${c(Math.floor(i / 36))},${c(Math.floor(i / 6) % 6)},${c(i % 6)})`;
  }
  function extended(p, i) {
    // 38;5;n or 38;2;r;g;b; returns [colour, parameters used]
    if (p[i + 1] === 5 && p[i + 2] >= 0 && p[i + 2] <= 255) {
      const n = p[i + 2];
      return [n < 16 ? n : cube(n), 2];
    }
    if (p[i + 1] === 2 && p.length > i + 4) {
      const [r, g, b] = [p[i + 2], p[i + 3], p[i + 4]].map((v) => Math.max(0, Math.min(255, v | 0)));
      return [`rgb(${r},${g},${b})`, 4];
    }
    return [null, p.length];
  }
  function sgr(params) {
    const p = params === '' ? [0] : params.split(';').map((n) => parseInt(n || '0', 10));
    for (let i = 0; i < p.length; i++) {
      const n = p[i];
      if (n === 0) resetAttr();
      else if (n === 1) attr.bold = true;
      else if (n === 3) attr.italic = true;
      else if (n === 4) attr.underline = true;
      else if (n === 7) attr.inverse = true;
      else if (n === 22) attr.bold = false;
      else if (n === 23) attr.italic = false;
      else if (n === 24) attr.underline = false;
      else if (n === 27) attr.inverse = false;
      else if (n >= 30 && n <= 37) attr.fg = n - 30;
      else if (n >= 90 && n <= 97) attr.fg = n - 90 + 8;
      else if (n === 39) attr.fg = null;
      else if (n >= 40 && n <= 47) attr.bg = n - 40;
      else if (n >= 100 && n <= 107) attr.bg = n - 100 + 8;
      else if (n === 49) attr.bg = null;
      else if (n === 38 || n === 48) {
        const [colour, used] = extended(p, i);
        if (n === 38) attr.fg = colour; else attr.bg = colour;
        i += used;
      }
    }
  }
  function styled(el) {
    let fg = attr.fg;
    let bg = attr.bg;
    // Bold with one of the first eight colours is the bright colour, as terminals show it.
    if (attr.bold && typeof fg === 'number' && fg < 8) fg += 8;
    if (attr.inverse) {
      if (fg === null && bg === null) {
        el.classList.add('inv');
      } else {
        [fg, bg] = [bg === null ? 'var(--bg)' : bg, fg === null ? 'var(--fg)' : fg];
      }
    }
    if (typeof fg === 'number') el.classList.add(`f${fg}`); else if (fg) el.style.color = fg;
    if (typeof bg === 'number') el.classList.add(`k${bg}`); else if (bg) el.style.backgroundColor = bg;
    if (attr.bold) el.classList.add('b');
    if (attr.underline) el.classList.add('u');
    if (attr.italic) el.classList.add('i');
    return el;
  }
  const LINK = /\bhttps?:\/\/[^\s<>"'`]+/g;
  function appendText(parent, text) {
    if (!text) return;
    const span = styled(document.createElement('span'));
    let last = 0;
    for (const match of text.matchAll(LINK)) {
      const url = match[0].replace(/[.,;:!?)\]]+$/, '');
      span.append(text.slice(last, match.index));
      const a = document.createElement('a');
      a.href = url;
      a.rel = 'noopener noreferrer';
      a.target = '_blank';
      a.textContent = url;
      span.append(a);
      last = match.index + url.length;
    }
    span.append(text.slice(last));
    parent.append(span);
  }
  function render(line) {
    const div = document.createElement('div');
    const escape = /\x1b\[([0-9;]*)([A-Za-z])/g;
    let last = 0;
    for (const match of line.matchAll(escape)) {
      appendText(div, line.slice(last, match.index).replace(/\x1b/g, ''));
      if (match[2] === 'm') sgr(match[1]);
      last = match.index + match[0].length;
    }
    appendText(div, line.slice(last).replace(/\x1b/g, ''));
    if (!div.firstChild) div.append('\u200b');
    return div;
  }

  // ---- the scrollback: follows new output only while the reader is at the bottom ----
  function atBottom() {
    return out.scrollHeight - out.scrollTop - out.clientHeight < 8;
  }
  function show(div) {
    const follow = atBottom();
    out.append(div);
    while (out.childElementCount > MAX_LINES) {
      const first = out.firstElementChild;
      const height = first.offsetHeight;
      first.remove();
      if (!follow) out.scrollTop -= height;
    }
    if (follow) out.scrollTop = out.scrollHeight;
  }
  function addLine(line) {
    if (state.firstScreenAt === null) state.firstScreenAt = performance.now();
    show(render(line));
  }
  function addEcho(text) {
    for (const line of text.split('\n')) {
      const div = document.createElement('div');
      div.className = 'echo';
      div.textContent = `> ${line}`;
      show(div);
    }
  }

  // ---- connection ----
  function setStatus(text, reconnecting) {
    status.textContent = text;
    document.body.classList.toggle('reconnecting', !!reconnecting);
    banner.hidden = !reconnecting;
  }
  function showLogin() {
    const wasHidden = login.hidden;
    login.hidden = !(state.open && !state.loggedIn && !state.ended);
    if (wasHidden && !login.hidden && document.activeElement === input && !input.value) $('name').focus();
  }
  function sendGmcp(pkg, data) {
    if (state.ws && state.open) state.ws.send(`${GMCP}${pkg} ${JSON.stringify(data)}`);
  }
  function connect() {
    const url = new URL('/', window.location.href);
    url.protocol = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
    url.search = '';
    if (state.token) url.searchParams.set('resume', state.token);
    const ws = new WebSocket(url);
    state.ws = ws;
    ws.addEventListener('open', () => {
      state.open = true;
      state.retries = 0;
      setStatus('Connected', false);
      sendGmcp('Core.Hello', { client: 'mush-web', version: '1' });
      sendGmcp('Core.Supports.Set', ['Core 1', 'Client 1']);
      showLogin();
    });
    ws.addEventListener('message', (event) => {
      if (typeof event.data !== 'string') return;
      if (event.data.startsWith(GMCP)) gmcp(event.data.slice(1));
      else addLine(event.data);
    });
    ws.addEventListener('close', () => {
      if (state.ws !== ws) return;
      state.ws = null;
      state.open = false;
      showLogin();
      if (state.ended) {
        setStatus('Disconnected. Reload the page to play again.', false);
        return;
      }
      reconnect();
    });
  }
  function reconnect() {
    const backoff = Math.min(500 * 2 ** state.retries, 5000);
    const delay = state.hold || backoff;
    state.hold = 0;
    state.retries += 1;
    setStatus('Reconnecting…', true);
    window.setTimeout(connect, delay);
  }
  function gmcp(message) {
    const space = message.indexOf(' ');
    const pkg = space < 0 ? message : message.slice(0, space);
    let data = null;
    if (space >= 0) {
      try { data = JSON.parse(message.slice(space + 1)); } catch (_) { return; }
    }
    switch (pkg) {
      case 'Core.Hello':
        if (data && typeof data.name === 'string') {
          document.title = data.name;
          $('title').textContent = data.name;
        }
        break;
      case 'Client.Session':
        state.loggedIn = !!(data && data.logged_in);
        if (data && data.resumed) {
          state.resumes += 1;
          setStatus('Connected (session resumed)', false);
        }
        showLogin();
        break;
      case 'Client.Resume':
        if (data && typeof data.token === 'string') {
          state.token = data.token;
          sessionStorage.setItem(TOKEN_KEY, data.token);
        }
        break;
      case 'Core.Goodbye':
        state.ended = true;
        state.token = null;
        sessionStorage.removeItem(TOKEN_KEY);
        break;
      default:
        break;
    }
    document.dispatchEvent(new CustomEvent('mush:gmcp', { detail: { pkg, data } }));
  }
  function send(text, shown) {
    if (!state.ws || !state.open) {
      addEcho('(not connected; the line was kept)');
      return false;
    }
    state.ws.send(text);
    if (echo.checked && shown !== null) addEcho(shown === undefined ? text : shown);
    return true;
  }

  // ---- the connect screen as a form ----
  login.addEventListener('submit', (event) => {
    event.preventDefault();
    const verb = event.submitter && event.submitter.value === 'create' ? 'create' : 'connect';
    const name = $('name').value.trim();
    const password = $('password').value;
    if (!name || !password) return;
    const quoted = /\s/.test(name) ? `"${name}"` : name;
    // The password is never echoed.
    if (send(`${verb} ${quoted} ${password}`, `${verb} ${quoted} ********`)) {
      $('password').value = '';
      input.focus();
    }
  });

  // ---- the input line: history, multi-line mode ----
  function submitInput() {
    const text = input.value.replace(/\r/g, '');
    if (!send(text)) return;
    if (text.trim() && state.history[state.history.length - 1] !== text) {
      state.history.push(text);
      if (state.history.length > MAX_HISTORY) state.history.shift();
    }
    state.at = state.history.length;
    state.draft = '';
    input.value = '';
  }
  $('command').addEventListener('submit', (event) => {
    event.preventDefault();
    submitInput();
    input.focus();
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && (!multiline.checked || event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      submitInput();
      return;
    }
    const single = !input.value.includes('\n');
    if (event.key === 'ArrowUp' && (single || input.selectionStart === 0) && state.at > 0) {
      if (state.at === state.history.length) state.draft = input.value;
      state.at -= 1;
      input.value = state.history[state.at];
      event.preventDefault();
    } else if (event.key === 'ArrowDown' && (single || input.selectionEnd === input.value.length)
      && state.at < state.history.length) {
      state.at += 1;
      input.value = state.at === state.history.length ? state.draft : state.history[state.at];
      event.preventDefault();
    } else if (event.key === 'Escape') {
      input.value = '';
      state.at = state.history.length;
    }
  });
  multiline.addEventListener('change', () => {
    input.rows = multiline.checked ? 4 : 1;
    input.setAttribute('aria-label', multiline.checked
      ? 'Command (multi-line: Ctrl+Enter sends, one command per line)'
      : 'Command (Enter sends, Up and Down for history)');
    input.focus();
  });

  // For tests and the curious: the state, and a simulated network blip (the socket drops
  // and the page reconnects after `holdMs`, resuming the session).
  window.mushClient = Object.freeze({
    drop(holdMs) {
      state.hold = Math.max(0, holdMs | 0);
      if (state.ws) state.ws.close(4000, 'simulated drop');
    },
    render(line) {
      resetAttr();
      return render(line);
    },
    info() {
      return {
        open: state.open,
        loggedIn: state.loggedIn,
        resumes: state.resumes,
        token: state.token,
        firstScreenAt: state.firstScreenAt,
      };
    },
  });

  input.focus();
  connect();
})();
