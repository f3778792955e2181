// The MedQA chat page: the notebook's Gradio ChatInterface, served by `medqa serve`, no CDN.
// Conversations live in this browser (localStorage); the API key only for this tab (sessionStorage).
'use strict';

const $ = (id) => document.getElementById(id);
const HISTORY = 'medqa.history';
let conversation = newConversation();
let controller = null; // the running request's AbortController

function newConversation() {
  return { id: String(Date.now()) + Math.random().toString(16).slice(2, 6), title: '', messages: [], updated: Date.now() };
}

// ---- Markdown, with every character of model and user text escaped first ----
function escapeHtml(s) {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

function inline(s) {
  // s is already escaped: these patterns only add fixed tags around escaped text.
  return s.replace(/`([^`]+)`/g, '<code>$1</code>')
    .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>')
    // Emphasis as CommonMark delimits it: no space after the opening * or before the closing one,
    // so "5 * 3 and 2 * 4" stays as typed instead of italicising the rest of the line.
    .replace(/(^|[^*\w])\*([^*\s](?:[^*]*[^*\s])?)\*(?!\w)/g, '$1<em>$2</em>');
}

function renderMarkdown(text) {
  const out = [];
  const blocks = escapeHtml(text).split(/```/);
  blocks.forEach((block, i) => {
    if (i % 2 === 1) { // inside a code fence: the first line may name the language
      out.push('<pre><code>' + block.replace(/^[^\n]*\n/, '') + '</code></pre>');
      return;
    }
    let list = null;
    for (const line of block.split('\n')) {
      const item = line.match(/^\s*(?:[-*]|\d+\.)\s+(.*)$/);
      if (item) {
        if (!list) { out.push('<ul>'); list = true; }
        out.push('<li>' + inline(item[1]) + '</li>');
        continue;
      }
      if (list) { out.push('</ul>'); list = null; }
      const heading = line.match(/^(#{1,4})\s+(.*)$/);
      if (heading) {
        out.push('<h4>' + inline(heading[2]) + '</h4>');
      } else if (line.trim() !== '') {
        out.push('<p>' + inline(line) + '</p>');
      }
    }
    if (list) { out.push('</ul>'); }
  });
  return out.join('');
}

// ---- API ----
function headers() {
  const h = { 'Content-Type': 'application/json' };
  const key = sessionStorage.getItem('medqa.key');
  if (key) { h.Authorization = 'Bearer ' + key; }
  return h;
}

function status(text) { $('status').textContent = text || ''; }

async function api(path, body, signal) {
  const res = await fetch(path, body === undefined ? { headers: headers() }
    : { method: 'POST', headers: headers(), body: JSON.stringify(body), signal });
  if (res.status === 401) {
    $('key-box').hidden = false;
    throw new Error('this server needs an API key');
  }
  return res;
}

async function loadModels() {
  try {
    const res = await api('/v1/models');
    const data = await res.json();
    const select = $('adapter');
    select.textContent = '';
    for (const m of data.data) {
      const option = document.createElement('option');
      option.value = m.id;
      option.textContent = m.parent ? m.id + ' (adapter)' : m.id;
      select.appendChild(option);
    }
    status('');
  } catch (e) {
    status(e.message);
    if ($('key-box').hidden) { setTimeout(loadModels, 2000); } // the model may still be loading
  }
}

function settings() {
  return {
    model: $('adapter').value || undefined,
    temperature: Number($('temperature').value),
    top_p: Number($('top-p').value),
    repetition_penalty: Number($('rep').value),
    max_tokens: Number($('max-tokens').value),
    system: $('system').value,
  };
}

function requestMessages() {
  const system = $('system').value.trim();
  const turns = conversation.messages.map((m) => ({ role: m.role, content: m.content }));
  return system ? [{ role: 'system', content: system }, ...turns] : turns;
}

// ---- the conversation ----
function render() {
  const box = $('messages');
  box.textContent = '';
  conversation.messages.forEach((m, i) => box.appendChild(messageElement(m, i)));
  box.scrollTop = box.scrollHeight;
  renderHistory();
}

// Whether the reader is at the end of the messages (then new text keeps it there; if they have
// scrolled up to read, the stream leaves them where they are).
function atBottom(box) {
  return box.scrollHeight - box.scrollTop - box.clientHeight < 40;
}

function messageElement(m, index) {
  const div = document.createElement('div');
  div.className = 'msg ' + m.role;
  const role = document.createElement('div');
  role.className = 'role';
  role.textContent = m.role === 'user' ? 'You' : 'MedQA';
  const content = document.createElement('div');
  content.className = 'content';
  content.innerHTML = renderMarkdown(m.content);
  div.append(role, content);
  if (m.stopped) {
    const note = document.createElement('div');
    note.className = 'note';
    note.textContent = 'stopped before the end';
    div.appendChild(note);
  }
  if (m.role === 'assistant' && m.alternative) {
    const alt = document.createElement('div');
    alt.className = 'alternative';
    const altRole = document.createElement('div');
    altRole.className = 'role';
    altRole.textContent = 'Another answer';
    const altContent = document.createElement('div');
    altContent.className = 'content';
    altContent.innerHTML = renderMarkdown(m.alternative.content);
    alt.append(altRole, altContent);
    div.appendChild(alt);
    const picks = document.createElement('div');
    picks.className = 'picks';
    for (const [which, label] of [['first', 'The first is better'], ['second', 'The other is better'], ['neither', 'Neither']]) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'pick-' + which;
      b.textContent = label;
      b.disabled = !m.alternative.id || controller !== null;
      b.addEventListener('click', () => pick(index, which));
      picks.appendChild(b);
    }
    div.appendChild(picks);
  }
  if (m.role === 'assistant') {
    const votes = document.createElement('div');
    votes.className = 'votes';
    for (const [vote, label] of [['like', '▲ Like'], ['dislike', '▼ Dislike']]) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = vote + (m.vote === vote ? ' chosen' : '');
      b.title = vote;
      b.textContent = label;
      b.addEventListener('click', () => sendVote(index, vote));
      votes.appendChild(b);
    }
    if (m.id && !m.alternative && index === conversation.messages.length - 1) {
      const another = document.createElement('button');
      another.type = 'button';
      another.className = 'another';
      another.textContent = 'Another answer';
      another.title = 'a second answer to compare with this one';
      another.addEventListener('click', () => anotherAnswer(index));
      votes.appendChild(another);
    }
    div.appendChild(votes);
  }
  return div;
}

// A vote names the completion; the server records it with what produced it (messages, model,
// every setting, the seed), never with the page's settings at the time of the click.
async function sendVote(index, vote) {
  const answer = conversation.messages[index];
  try {
    const res = await api('/v1/feedback', { completion_id: answer.id, vote });
    if (!res.ok) { throw new Error((await res.json()).error.message); }
    answer.vote = vote;
    save();
    render();
    status('thanks: your ' + vote + ' was recorded');
  } catch (e) {
    status(e.message);
  }
}

// Streams one answer to `messages` into `reply` ({content, id}), showing it in `contentEl`.
async function streamAnswer(messages, reply, contentEl) {
  const s = settings();
  const res = await api('/v1/chat/completions', {
    model: s.model, messages, stream: true, temperature: s.temperature,
    top_p: s.top_p, repetition_penalty: s.repetition_penalty, max_tokens: s.max_tokens,
  }, controller.signal);
  if (!res.ok) { throw new Error((await res.json()).error.message); }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) { break; }
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, end).replace(/^data: /, '');
      buffer = buffer.slice(end + 2);
      if (event === '[DONE]') { continue; }
      const chunk = JSON.parse(event);
      if (chunk.error) { throw new Error(chunk.error.message); }
      if (chunk.id) { reply.id = chunk.id; }
      const delta = chunk.choices.length ? chunk.choices[0].delta.content : null;
      if (delta) {
        const box = $('messages');
        const stick = atBottom(box);
        reply.content += delta;
        contentEl.innerHTML = renderMarkdown(reply.content);
        if (stick) { box.scrollTop = box.scrollHeight; }
      }
    }
  }
}

function busy(on) {
  $('stop').disabled = !on;
  $('send').disabled = on;
}

async function ask() {
  if (controller) { return; }
  const convo = conversation; // Clear or New may replace the current conversation while this streams
  const reply = { role: 'assistant', content: '' };
  convo.messages.push(reply);
  render();
  const content = $('messages').lastChild.querySelector('.content');
  controller = new AbortController();
  busy(true);
  try {
    await streamAnswer(requestMessages().slice(0, -1), reply, content);
    status('');
  } catch (e) {
    if (e.name === 'AbortError') { reply.stopped = true; }
    status(e.name === 'AbortError' ? 'stopped' : e.message);
  } finally {
    controller = null;
    busy(false);
    if (!reply.content) { convo.messages.pop(); }
    save(convo);
    render();
  }
}

// "Another answer": a second answer to the same conversation, shown beside the first; the user
// picks the better one (a pair for preference tuning) or neither.
async function anotherAnswer(index) {
  if (controller) { return; }
  const convo = conversation;
  const first = convo.messages[index];
  const second = { content: '', id: undefined };
  first.alternative = second;
  render();
  const content = $('messages').children[index].querySelector('.alternative .content');
  controller = new AbortController();
  busy(true);
  try {
    await streamAnswer(requestMessages().slice(0, requestMessages().length - convo.messages.length + index), second,
      content);
    status('pick the better answer, or neither');
  } catch (e) {
    delete first.alternative;
    status(e.name === 'AbortError' ? 'stopped' : e.message);
  } finally {
    controller = null;
    busy(false);
    save(convo);
    render();
  }
}

// Keeps the picked answer in the conversation; with a pick (not "neither") the pair is recorded.
async function pick(index, which) {
  const m = conversation.messages[index];
  const alt = m.alternative;
  if (!alt) { return; }
  if (which !== 'neither') {
    const chosen = which === 'first' ? m : alt;
    const rejected = which === 'first' ? alt : m;
    try {
      const res = await api('/v1/feedback', { chosen: chosen.id, rejected: rejected.id });
      if (!res.ok) { throw new Error((await res.json()).error.message); }
      status('thanks: your pick was recorded');
    } catch (e) {
      status(e.message);
      return;
    }
    if (which === 'second') {
      m.content = alt.content;
      m.id = alt.id;
      delete m.vote;
    }
  }
  delete m.alternative;
  save();
  render();
}

function send(event) {
  event.preventDefault();
  const text = $('input').value.trim();
  if (!text || controller) { return; }
  const last = conversation.messages[conversation.messages.length - 1];
  if (last && last.role === 'user') { conversation.messages.pop(); } // an unanswered question is replaced
  conversation.messages.push({ role: 'user', content: text });
  if (!conversation.title) { conversation.title = text.slice(0, 60); }
  $('input').value = '';
  ask();
}

function retry() {
  if (controller) { return; }
  const last = conversation.messages[conversation.messages.length - 1];
  if (last && last.role === 'assistant') { conversation.messages.pop(); }
  if (conversation.messages.length) { ask(); }
}

function undo() {
  if (controller) { return; }
  const last = conversation.messages[conversation.messages.length - 1];
  if (last && last.role === 'assistant') { conversation.messages.pop(); }
  const question = conversation.messages.pop();
  if (question) { $('input').value = question.content; }
  save();
  render();
}

function clear() {
  if (controller) { controller.abort(); }
  conversation = newConversation();
  render();
}

// ---- history, kept in this browser ----
// What this browser kept; anything malformed (edited by hand, another version, another page on
// this origin) is skipped rather than breaking the page.
function history() {
  let all;
  try { all = JSON.parse(localStorage.getItem(HISTORY)); } catch (e) { return []; }
  if (!Array.isArray(all)) { return []; }
  return all.filter((c) => c !== null && typeof c === 'object' && typeof c.id === 'string'
    && Array.isArray(c.messages) && c.messages.every((m) => m !== null && typeof m === 'object'
      && (m.role === 'user' || m.role === 'assistant') && typeof m.content === 'string'
      && (m.id === undefined || typeof m.id === 'string')))
    .map((c) => ({ ...c, title: typeof c.title === 'string' ? c.title : '',
      updated: typeof c.updated === 'number' ? c.updated : 0 }));
}

function save(c = conversation) {
  if (!c.messages.length) { return; }
  c.updated = Date.now();
  const all = history().filter((h) => h.id !== c.id);
  all.unshift(c);
  localStorage.setItem(HISTORY, JSON.stringify(all.slice(0, 100)));
  renderHistory();
}

function renderHistory() {
  const list = $('history');
  list.textContent = '';
  for (const c of history()) {
    const li = document.createElement('li');
    li.textContent = c.title || '(untitled)';
    li.title = new Date(c.updated).toLocaleString();
    if (c.id === conversation.id) { li.className = 'current'; }
    li.addEventListener('click', () => {
      if (controller) { return; }
      conversation = c;
      document.body.classList.remove('show-history');
      render();
    });
    list.appendChild(li);
  }
}

function download(kind) {
  const name = 'medqa-' + conversation.id + '.' + (kind === 'md' ? 'md' : 'json');
  let text;
  if (kind === 'md') {
    text = '# ' + (conversation.title || 'MedQA conversation') + '\n\n'
      + conversation.messages.map((m) => '**' + (m.role === 'user' ? 'You' : 'MedQA') + ':** ' + m.content).join('\n\n') + '\n';
  } else {
    text = JSON.stringify({ system: $('system').value, messages: conversation.messages }, null, 2);
  }
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([text], { type: kind === 'md' ? 'text/markdown' : 'application/json' }));
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

function bindSlider(id) {
  const update = () => { $(id + '-value').textContent = $(id).value; };
  $(id).addEventListener('input', update);
  update();
}

window.addEventListener('DOMContentLoaded', () => {
  $('composer').addEventListener('submit', send);
  $('input').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey) { send(e); }
  });
  $('stop').addEventListener('click', () => controller && controller.abort());
  $('retry').addEventListener('click', retry);
  $('undo').addEventListener('click', undo);
  $('clear').addEventListener('click', clear);
  $('new-chat').addEventListener('click', clear);
  $('download-md').addEventListener('click', () => download('md'));
  $('download-json').addEventListener('click', () => download('json'));
  $('save-key').addEventListener('click', () => {
    sessionStorage.setItem('medqa.key', $('api-key').value);
    $('key-box').hidden = true;
    loadModels();
  });
  ['temperature', 'top-p', 'rep', 'max-tokens'].forEach(bindSlider);
  // Reflowing (a resized window, a rotated phone) keeps a reader who was at the end at the end.
  let stuck = true;
  $('messages').addEventListener('scroll', () => { stuck = atBottom($('messages')); });
  window.addEventListener('resize', () => { if (stuck) { $('messages').scrollTop = $('messages').scrollHeight; } });
  // An open panel (narrow screens) closes when the chat behind it is touched.
  document.querySelector('main').addEventListener('click', (e) => {
    if (!e.target.closest('.panel-toggle')) { document.body.classList.remove('show-history', 'show-settings'); }
  });
  $('toggle-history').addEventListener('click', () => {
    document.body.classList.remove('show-settings');
    document.body.classList.toggle('show-history');
  });
  $('toggle-settings').addEventListener('click', () => {
    document.body.classList.remove('show-history');
    document.body.classList.toggle('show-settings');
  });
  renderHistory();
  loadModels();
});
