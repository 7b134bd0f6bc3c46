/* 汕尾民政问答助手 — the web page. Every piece of data is set with textContent, never as HTML. */
(function () {
  "use strict";

  var ELDER_KEY = "shanwei-elder-mode";
  var HISTORY_SIZE = 5;

  function storedElder() {
    try {
      return window.localStorage.getItem(ELDER_KEY) === "1";
    } catch (e) {
      return false;
    }
  }

  // Before the body is drawn, so elder-friendly mode never flashes the small layout.
  if (storedElder()) {
    document.documentElement.classList.add("elder");
  }

  var ui = {};
  var history = [];
  var busy = false;

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

  function format(template, values) {
    return String(template).replace(/\{(\w+)\}/g, function (all, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : all;
    });
  }

  // --- elder-friendly mode ---------------------------------------------------------------------

  function applyElder(on) {
    document.documentElement.classList.toggle("elder", on);
    var button = document.getElementById("elder-toggle");
    button.setAttribute("aria-pressed", on ? "true" : "false");
    button.textContent = on ? ui.elder_off : ui.elder_on;
  }

  function toggleElder() {
    var on = !document.documentElement.classList.contains("elder");
    try {
      window.localStorage.setItem(ELDER_KEY, on ? "1" : "0");
    } catch (e) {
      /* private mode: the switch still works for this visit */
    }
    applyElder(on);
  }

  // --- the chat log ----------------------------------------------------------------------------

  function scrollToEnd(node) {
    if (node.scrollIntoView) {
      node.scrollIntoView({ block: "end", behavior: "smooth" });
    }
  }

  function addMessage(role, text, extraClass) {
    var log = document.getElementById("log");
    var item = el("section", "msg msg-" + role + (extraClass ? " " + extraClass : ""));
    item.appendChild(el("p", "who", role === "user" ? ui.you : ui.bot));
    item.appendChild(el("p", "msg-text", text));
    log.appendChild(item);
    scrollToEnd(item);
    return item;
  }

  function addSources(item, cited) {
    if (!cited || !cited.length) {
      return;
    }
    var box = el("div", "sources");
    box.appendChild(el("p", "sources-heading", ui.sources));
    var list = el("ul", "sources-list");
    cited.forEach(function (source) {
      var li = el("li", "source");
      li.appendChild(el("span", "source-title", "《" + source.title + "》"));
      li.appendChild(el("span", "source-date", source.issued || ui.date_unknown));
      list.appendChild(li);
    });
    box.appendChild(list);
    item.appendChild(box);
  }

  function addVotes(item, answerId) {
    if (!answerId) {
      return;
    }
    var bar = el("div", "votes");
    var status = el("p", "vote-status");
    status.setAttribute("role", "status");
    var up = el("button", "vote vote-up", "👍 " + ui.vote_up);
    var down = el("button", "vote vote-down", "👎 " + ui.vote_down);
    [up, down].forEach(function (button) {
      button.type = "button";
      button.addEventListener("click", function () {
        up.disabled = true;
        down.disabled = true;
        button.classList.add("chosen");
        sendVote(answerId, button === up ? "up" : "down", status, up, down);
      });
    });
    bar.appendChild(up);
    bar.appendChild(down);
    bar.appendChild(status);
    item.appendChild(bar);
  }

  function postJson(url, body) {
    return fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "same-origin",
    }).then(function (response) {
      return response
        .json()
        .catch(function () {
          return {};
        })
        .then(function (data) {
          return { ok: response.ok, status: response.status, data: data || {} };
        });
    });
  }

  function sendVote(answerId, vote, status, up, down) {
    postJson("/api/feedback", { answer_id: answerId, vote: vote })
      .then(function (result) {
        status.textContent = result.data.message || ui.network_error;
        if (!result.ok && result.status === 429) {
          up.disabled = false;
          down.disabled = false;
        }
      })
      .catch(function () {
        status.textContent = ui.network_error;
        up.disabled = false;
        down.disabled = false;
      });
  }

  // --- asking ----------------------------------------------------------------------------------

  function setBusy(on) {
    busy = on;
    document.getElementById("send").disabled = on;
    document.body.classList.toggle("busy", on);
  }

  function ask(question) {
    question = String(question || "").trim();
    if (busy) {
      return;
    }
    if (question) {
      addMessage("user", question);
    }
    var pending = addMessage("bot", ui.thinking, "pending");
    setBusy(true);
    postJson("/api/ask", { question: question, history: history.slice(-HISTORY_SIZE) })
      .then(function (result) {
        pending.remove();
        if (!result.ok) {
          addMessage("bot", result.data.message || ui.network_error, "error");
          return;
        }
        var data = result.data;
        var item = addMessage("bot", data.text || data.answer, data.answered ? "answered" : "unanswered");
        addSources(item, data.cited);
        addVotes(item, data.answer_id);
        if (data.answered && question) {
          history.push(question);
          history = history.slice(-HISTORY_SIZE);
        }
      })
      .catch(function () {
        pending.remove();
        addMessage("bot", ui.network_error, "error");
      })
      .then(function () {
        setBusy(false);
      });
  }

  function newTopic() {
    history = [];
    addMessage("bot", ui.new_topic_done);
  }

  // --- eligibility wizard (低保) ----------------------------------------------------------------

  function submitWizard(event) {
    event.preventDefault();
    var form = event.target;
    var error = document.getElementById("wizard-error");
    var size = Number(document.getElementById("wizard-size").value);
    var incomeText = document.getElementById("wizard-income").value;
    var income = Number(incomeText);
    if (!Number.isInteger(size) || size < 1 || size > 20 || incomeText === "" || !(income >= 0)) {
      error.textContent = ui.wizard_invalid;
      error.hidden = false;
      return;
    }
    error.hidden = true;
    var area = form.querySelector("input[name=area]:checked");
    var areaName = area && area.value === "rural" ? ui.wizard_area_rural : ui.wizard_area_urban;
    ask(format(ui.wizard_question, { area: areaName, size: size, income: Math.round(income) }));
  }

  // --- start -------------------------------------------------------------------------------------

  function init() {
    var data = document.getElementById("ui-strings");
    try {
      ui = JSON.parse(data ? data.textContent : "{}");
    } catch (e) {
      ui = {};
    }
    applyElder(document.documentElement.classList.contains("elder"));
    document.getElementById("elder-toggle").addEventListener("click", toggleElder);

    var input = document.getElementById("question");
    document.getElementById("ask-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var question = input.value;
      if (busy) {
        return;
      }
      input.value = "";
      ask(question);
      input.focus();
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        document.getElementById("ask-form").requestSubmit();
      }
    });
    document.getElementById("new-topic").addEventListener("click", newTopic);
    Array.prototype.forEach.call(document.querySelectorAll(".chip"), function (chip) {
      chip.addEventListener("click", function () {
        if (busy) {
          return;
        }
        history = []; // a topic chip starts a new topic
        ask(chip.getAttribute("data-question"));
      });
    });
    document.getElementById("wizard-form").addEventListener("submit", submitWizard);
    addMessage("bot", ui.welcome, "welcome");
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
