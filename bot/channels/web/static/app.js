/* 汕尾民政问答助手 — the web page. Every piece of data is set with textContent, never as HTML.
 *
 * Written for the browsers residents have, WeChat's in-app browser first: on Android that is
 * Tencent's X5 or XWeb engine, on older phones a Chromium of the Chrome 57-66 era; on iPhones
 * WKWebView. So: ES5 syntax (no arrow functions, let/const, template strings or optional chaining),
 * XMLHttpRequest wrapped in a Promise rather than fetch, no form.requestSubmit, no NodeList.forEach,
 * no Element.remove; speech synthesis only where the browser has it (the button is left out
 * otherwise). Nothing is fetched from another host.
 */
(function () {
  "use strict";

  var ELDER_KEY = "shanwei-elder-mode";
  var HISTORY_SIZE = 5;
  var END_MARGIN = 8; // px left between an answer's last line and the input box
  var INPUT_MAX_HEIGHT = 0.12; // of the window: the question box grows to this, then scrolls
  var REQUEST_TIMEOUT_MS = 60000;

  function storedElder() {
    try {
      return window.localStorage.getItem(ELDER_KEY) === "1";
    } catch (e) {
      return false;
    }
  }

  // Before the body is drawn, so elder-friendly mode never flashes the small layout.
  if (storedElder()) {
    document.documentElement.className += " elder";
  }

  var ui = {};
  var history = [];
  var busy = false;
  var cards = 0;

  // --- small helpers ---------------------------------------------------------------------------

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined && text !== null) {
      node.textContent = String(text);
    }
    return node;
  }

  function button(className, text, onClick) {
    var node = el("button", className, text);
    node.type = "button";
    node.addEventListener("click", onClick);
    return node;
  }

  function each(list, fn) {
    Array.prototype.forEach.call(list || [], fn);
  }

  function setClass(node, name, on) {
    if (on) {
      node.classList.add(name);
    } else {
      node.classList.remove(name);
    }
  }

  function removeNode(node) {
    if (node && node.parentNode) {
      node.parentNode.removeChild(node);
    }
  }

  function clear(node) {
    while (node.firstChild) {
      node.removeChild(node.firstChild);
    }
  }

  function isElder() {
    return document.documentElement.classList.contains("elder");
  }

  function coarsePointer() {
    return !!(window.matchMedia && window.matchMedia("(pointer: coarse)").matches);
  }

  // --- talking to the server -------------------------------------------------------------------

  function request(method, url, body) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open(method, url, true);
      xhr.setRequestHeader("Accept", "application/json");
      if (body !== undefined) {
        xhr.setRequestHeader("Content-Type", "application/json");
      }
      xhr.timeout = REQUEST_TIMEOUT_MS;
      xhr.onload = function () {
        var data = {};
        try {
          data = JSON.parse(xhr.responseText || "{}") || {};
        } catch (e) {
          data = {};
        }
        resolve({ ok: xhr.status >= 200 && xhr.status < 300, status: xhr.status, data: data });
      };
      xhr.onerror = function () {
        reject(new Error("network"));
      };
      xhr.ontimeout = xhr.onerror;
      xhr.send(body === undefined ? null : JSON.stringify(body));
    });
  }

  function setBusy(on) {
    busy = on;
    document.getElementById("send").disabled = on;
    setClass(document.body, "busy", on);
  }

  // --- elder-friendly mode ---------------------------------------------------------------------

  function applyElder(on) {
    setClass(document.documentElement, "elder", on);
    var toggle = document.getElementById("elder-toggle");
    toggle.setAttribute("aria-pressed", on ? "true" : "false");
    toggle.textContent = on ? ui.elder_off : ui.elder_on;
  }

  function toggleElder() {
    var on = !isElder();
    try {
      window.localStorage.setItem(ELDER_KEY, on ? "1" : "0");
    } catch (e) {
      /* private mode: the switch still works for this visit */
    }
    applyElder(on);
  }

  // --- keeping the newest message in sight -----------------------------------------------------

  // The bottom of what the resident can see: the top of the input box, when it is on screen.
  function visibleBottom() {
    var bottom = window.innerHeight || document.documentElement.clientHeight;
    var top = document.getElementById("ask-form").getBoundingClientRect().top;
    return top > 0 && top < bottom ? top : bottom;
  }

  // Scroll so the node's last line (an answer's phone numbers, sources and 👍/👎) is just above the box.
  function showEnd(node) {
    var overflow = node.getBoundingClientRect().bottom + END_MARGIN - visibleBottom();
    if (overflow > 0) {
      window.scrollBy(0, Math.ceil(overflow));
    }
  }

  // A list or a card: all of it when it fits, else from its top.
  function showWhole(node) {
    var rect = node.getBoundingClientRect();
    if (rect.height + 2 * END_MARGIN <= visibleBottom()) {
      showEnd(node);
    } else {
      window.scrollBy(0, Math.floor(rect.top - END_MARGIN));
    }
  }

  // --- text with tap-to-call phone numbers -----------------------------------------------------

  function fillText(node, text, parts) {
    if (!parts || !parts.length) {
      node.textContent = String(text || "");
      return;
    }
    each(parts, function (part) {
      if (part.tel) {
        var link = el("a", "tel", part.text);
        link.href = "tel:" + String(part.tel).replace(/[^\d+]/g, "");
        node.appendChild(link);
      } else {
        node.appendChild(document.createTextNode(String(part.text)));
      }
    });
  }

  // What the speech synthesis reads: phone numbers digit by digit ("一二三四五", not "一万两千…").
  function spoken(text, parts) {
    if (!parts || !parts.length) {
      return String(text || "");
    }
    var out = "";
    each(parts, function (part) {
      out += part.tel ? " " + String(part.tel).split("").join(" ") + " " : String(part.text);
    });
    return out;
  }

  // --- reading aloud (the browser's own speech synthesis; nothing is fetched) ------------------

  var speech = window.speechSynthesis;
  var canSpeak = !!(speech && typeof speech.speak === "function" && window.SpeechSynthesisUtterance);
  var reading = null; // the button whose text is being read

  function chineseVoice() {
    var voices = (speech.getVoices && speech.getVoices()) || [];
    var found = null;
    each(voices, function (voice) {
      // A voice on the phone itself: a network voice would send the text elsewhere.
      if (!found && voice.localService && /^(zh[-_](CN|Hans)|cmn)/i.test(String(voice.lang))) {
        found = voice;
      }
    });
    return found;
  }

  function stopReading() {
    if (reading) {
      reading.textContent = ui.read_aloud;
      reading.setAttribute("aria-pressed", "false");
      reading = null;
    }
  }

  function readAloud(control, text) {
    var again = reading === control;
    speech.cancel();
    stopReading();
    if (again) {
      return; // a second press stops it
    }
    var utterance = new window.SpeechSynthesisUtterance(text);
    utterance.lang = "zh-CN";
    utterance.rate = 0.9;
    var voice = chineseVoice();
    if (voice) {
      utterance.voice = voice;
    }
    utterance.onend = function () {
      if (reading === control) {
        stopReading();
      }
    };
    utterance.onerror = utterance.onend;
    reading = control;
    control.textContent = ui.read_stop;
    control.setAttribute("aria-pressed", "true");
    speech.speak(utterance);
  }

  // --- the chat log ----------------------------------------------------------------------------

  function addMessage(role, text, extraClass, parts) {
    var item = el("section", "msg msg-" + role + (extraClass ? " " + extraClass : ""));
    item.appendChild(el("p", "who", role === "user" ? ui.you : ui.bot));
    var body = el("p", "msg-text");
    fillText(body, text, parts);
    item.appendChild(body);
    document.getElementById("log").appendChild(item);
    showEnd(item);
    return item;
  }

  function addSources(item, cited) {
    if (!cited || !cited.length) {
      return;
    }
    var box = el("div", "sources");
    box.appendChild(el("p", "sources-heading", ui.sources));
    var list = el("ul", "sources-list");
    each(cited, function (source) {
      var li = el("li", "source");
      li.appendChild(el("span", "source-title", "《" + source.title + "》"));
      li.appendChild(el("span", "source-date", source.issued || ui.date_unknown));
      list.appendChild(li);
    });
    box.appendChild(list);
    item.appendChild(box);
  }

  // 🔊 朗读 (where the browser can speak), then 👍/👎 for an answer that was logged.
  function addActions(item, answerId, speakText) {
    var bar = el("div", "actions");
    if (canSpeak && speakText) {
      var read = button("read-aloud", ui.read_aloud, function () {
        readAloud(read, speakText);
      });
      read.setAttribute("aria-pressed", "false");
      bar.appendChild(read);
    }
    if (answerId) {
      var status = el("p", "vote-status");
      status.setAttribute("role", "status");
      var up = el("button", "vote vote-up", "👍 " + ui.vote_up);
      var down = el("button", "vote vote-down", "👎 " + ui.vote_down);
      each([up, down], function (choice) {
        choice.type = "button";
        choice.addEventListener("click", function () {
          up.disabled = true;
          down.disabled = true;
          choice.classList.add("chosen");
          sendVote(answerId, choice === up ? "up" : "down", status, up, down);
        });
      });
      bar.appendChild(up);
      bar.appendChild(down);
      bar.appendChild(status);
    }
    if (bar.firstChild) {
      item.appendChild(bar);
    }
  }

  function sendVote(answerId, vote, status, up, down) {
    request("POST", "/api/feedback", { answer_id: answerId, vote: vote }).then(
      function (result) {
        status.textContent = result.data.message || ui.network_error;
        if (!result.ok && result.status === 429) {
          up.disabled = false;
          down.disabled = false;
        }
      },
      function () {
        status.textContent = ui.network_error;
        up.disabled = false;
        down.disabled = false;
      }
    );
  }

  // --- asking ----------------------------------------------------------------------------------

  function ask(question, fresh) {
    question = String(question || "").trim();
    if (busy) {
      return;
    }
    if (fresh) {
      history = []; // a topic's question starts a new topic
    }
    if (question) {
      addMessage("user", question);
    }
    var pending = addMessage("bot", ui.thinking, "pending");
    setBusy(true);
    request("POST", "/api/ask", { question: question, history: history.slice(-HISTORY_SIZE) })
      .then(
        function (result) {
          removeNode(pending);
          if (!result.ok) {
            addMessage("bot", result.data.message || ui.network_error, "error");
            return;
          }
          var data = result.data;
          var text = data.text || data.answer || "";
          var item = addMessage("bot", text, data.answered ? "answered" : "unanswered", data.parts);
          addSources(item, data.cited);
          addActions(item, data.answer_id, spoken(text, data.parts));
          showEnd(item);
          if (data.answered && question) {
            history.push(question);
            history = history.slice(-HISTORY_SIZE);
          }
        },
        function () {
          removeNode(pending);
          addMessage("bot", ui.network_error, "error");
        }
      )
      .then(function () {
        setBusy(false);
      });
  }

  function newTopic() {
    history = [];
    addMessage("bot", ui.new_topic_done);
  }

  // --- topic chips: the topic's common questions, from the served knowledge --------------------

  function showTopic(key) {
    if (busy) {
      return;
    }
    setBusy(true);
    request("GET", "/api/topics/" + encodeURIComponent(key))
      .then(
        function (result) {
          if (!result.ok) {
            addMessage("bot", result.data.message || ui.network_error, "error");
            return;
          }
          var data = result.data;
          var item = addMessage("bot", data.text, "topic topic-" + key, data.parts);
          if (data.questions && data.questions.length) {
            var list = el("div", "questions");
            each(data.questions, function (question) {
              list.appendChild(
                button("question-choice", question, function () {
                  ask(question, true);
                })
              );
            });
            item.appendChild(list);
            showWhole(item);
          } else {
            addActions(item, null, spoken(data.text, data.parts));
            showEnd(item);
          }
        },
        function () {
          addMessage("bot", ui.network_error, "error");
        }
      )
      .then(function () {
        setBusy(false);
      });
  }

  // --- self-check cards (低保, 助餐补贴): each step a card, driven by the server ------------------

  function startWizard(kind) {
    if (busy) {
      return;
    }
    var item = el("section", "msg msg-bot wizard-card");
    item.setAttribute("data-kind", kind);
    document.getElementById("log").appendChild(item);
    wizardCall(item, "/api/wizard/start", { kind: kind }, null);
  }

  function wizardCall(item, url, body, shown) {
    if (busy) {
      return;
    }
    setBusy(true);
    setClass(item, "waiting", true);
    request("POST", url, body)
      .then(
        function (result) {
          var data = result.data;
          if (result.ok && data.done) {
            showResult(item, data.title, data.result, data.parts);
          } else if (result.ok) {
            showCard(item, data);
          } else if (result.status === 409 && data.card) {
            showCard(item, data.card); // an old step: the step the token is at, saying so
          } else if (data.restart) {
            showResult(item, shown ? shown.title : "", data.message, null);
          } else if (shown) {
            showCard(item, shown, data.message || ui.network_error);
          } else {
            showResult(item, "", data.message || ui.network_error, null);
          }
        },
        function () {
          if (shown) {
            showCard(item, shown, ui.network_error);
          } else {
            showResult(item, "", ui.network_error, null);
          }
        }
      )
      .then(function () {
        setClass(item, "waiting", false);
        setBusy(false);
      });
  }

  function cardHeading(item, title, progress) {
    var heading = el("p", "card-title", title);
    item.appendChild(heading);
    if (progress) {
      item.appendChild(el("p", "card-progress", progress));
    }
  }

  function showCard(item, card, problemText) {
    clear(item);
    item.setAttribute("data-step", card.step);
    cardHeading(item, card.title, card.progress);
    item.appendChild(el("p", "card-prompt", card.prompt));
    var problem = el("p", "card-problem error", problemText || card.problem || "");
    problem.setAttribute("role", "alert");
    problem.hidden = !problem.textContent;
    item.appendChild(problem);

    function answer(text) {
      wizardCall(item, "/api/wizard/step", { token: card.token, step: card.step, answer: text }, card);
    }

    if (card.input === "choice") {
      var choices = el("div", "card-choices");
      each(card.choices, function (label) {
        choices.appendChild(
          button("card-choice", label, function () {
            answer(label);
          })
        );
      });
      item.appendChild(choices);
    } else {
      if (card.quick && card.quick.length) {
        var quick = el("div", "card-quick");
        each(card.quick, function (pick) {
          quick.appendChild(
            button("card-choice card-quick-choice", pick.label, function () {
              answer(pick.answer);
            })
          );
        });
        item.appendChild(quick);
      }
      cards += 1;
      var form = el("form", "card-number");
      form.setAttribute("novalidate", "");
      var label = el("label", "visually-hidden", ui.wizard_number_label);
      var input = el("input", "card-input");
      input.id = "wizard-input-" + cards;
      label.htmlFor = input.id;
      input.type = "text";
      input.setAttribute("inputmode", card.step === "income" ? "decimal" : "numeric");
      input.setAttribute("autocomplete", "off");
      input.setAttribute("placeholder", ui.wizard_number_label);
      input.maxLength = 20;
      var next = el("button", "primary card-next", ui.wizard_next);
      next.type = "submit";
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var value = input.value.trim();
        if (!value) {
          problem.textContent = ui.wizard_empty;
          problem.hidden = false;
          return;
        }
        answer(value);
      });
      form.appendChild(label);
      form.appendChild(input);
      form.appendChild(next);
      item.appendChild(form);
    }
    item.appendChild(
      button("secondary card-cancel", ui.wizard_cancel, function () {
        if (!busy) {
          showResult(item, card.title, ui.wizard_cancelled, null);
        }
      })
    );
    showWhole(item);
  }

  function showResult(item, title, text, parts) {
    clear(item);
    item.removeAttribute("data-step");
    setClass(item, "wizard-done", true);
    if (title) {
      cardHeading(item, title, "");
    }
    var body = el("p", "msg-text card-result");
    fillText(body, text, parts);
    item.appendChild(body);
    addActions(item, null, spoken(text, parts));
    var kind = item.getAttribute("data-kind") || "";
    item.appendChild(
      button("secondary card-again", ui.wizard_again, function () {
        startWizard(kind);
      })
    );
    showEnd(item);
  }

  // --- the question box ------------------------------------------------------------------------

  function fitInput(input) {
    input.style.height = "auto";
    var most = Math.round((window.innerHeight || 600) * INPUT_MAX_HEIGHT);
    input.style.height = Math.min(input.scrollHeight + 2, most) + "px";
  }

  function submitQuestion(event) {
    if (event) {
      event.preventDefault();
    }
    var input = document.getElementById("question");
    if (busy) {
      return;
    }
    var question = input.value;
    input.value = "";
    input.style.height = "";
    if (coarsePointer()) {
      input.blur(); // put the phone's keyboard away, so the answer has the screen
    } else {
      input.focus();
    }
    ask(question, false);
  }

  // --- start -------------------------------------------------------------------------------------

  function init() {
    var data = document.getElementById("ui-strings");
    try {
      ui = JSON.parse(data ? data.textContent : "{}");
    } catch (e) {
      ui = {};
    }
    applyElder(isElder());
    document.getElementById("elder-toggle").addEventListener("click", toggleElder);

    var input = document.getElementById("question");
    document.getElementById("ask-form").addEventListener("submit", submitQuestion);
    input.addEventListener("keydown", function (event) {
      var enter = event.key === "Enter" || event.keyCode === 13; // event.key: Chrome 51+
      if (enter && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        submitQuestion(event);
      }
    });
    input.addEventListener("input", function () {
      fitInput(input);
    });
    document.getElementById("new-topic").addEventListener("click", newTopic);
    each(document.querySelectorAll(".chip[data-topic]"), function (chip) {
      chip.addEventListener("click", function () {
        showTopic(chip.getAttribute("data-topic"));
      });
    });
    each(document.querySelectorAll(".chip[data-wizard]"), function (chip) {
      chip.addEventListener("click", function () {
        startWizard(chip.getAttribute("data-wizard"));
      });
    });
    addMessage("bot", ui.welcome, "welcome");
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
