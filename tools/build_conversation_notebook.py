"""Build examples/conversation.ipynb from the cells below, execute it and save its outputs.

    .venv/bin/python tools/build_conversation_notebook.py

The notebook is committed with its outputs, so that it reads well on its own; the test
suite executes it again (tests/test_notebooks.py).
"""

from pathlib import Path

import nbformat
from nbclient import NotebookClient

md = nbformat.v4.new_markdown_cell
code = nbformat.v4.new_code_cell
cells = [
    md("""# Conversations, turn by turn

A `Conversation` folds the events of a live exchange into states: it counts insults and
warnings, remembers what the agent has done, and knows when the exchange is over. Each call
to `advise()` then says what to do *now*: how to hold yourself (`attitudes`), the next moves
(`actions`, first thing first), what waits for the customer to finish (`pending`) and what to
avoid. See `docs/conversations.md` for the event vocabulary.

Two conversations below, in English, French and Polish:

1. an **escalation** on the phone: upset, insults, a warning, insults again, the ending;
2. a **de-escalation** in a chat: upset, apology, solution, resolved, follow-up."""),
    code("""from difficult_customers import Conversation


def turn_by_turn(conv, events, locale, show=None):
    \"\"\"Apply the events one by one; print the advice after each (or those in show).\"\"\"
    for event in events:
        conv = conv.apply(event)
        if show is not None and len(conv) not in show:
            continue
        advice = conv.advise(locale=locale)
        what = event.get("rule") or event.get("mood") or event.get("values") or ""
        print(f"--- {len(conv)}. {event['type']} {what}")
        for rec in advice.attitudes:
            print(f"    (throughout) {rec.title}")
        for rec in advice.actions[:2]:
            print(f"    now:  {rec.title}: {rec.text}")
        for rec in advice.pending[:2]:
            print(f"    then: {rec.title}")
    return conv"""),
    md("## 1. Escalation on the phone"),
    code("""escalation = [
    {"type": "customer_started_speaking"},
    {"type": "customer_mood", "mood": "angry"},
    {"type": "customer_insulted"},
    {"type": "customer_insulted"},
    {"type": "customer_finished_speaking"},
    {"type": "agent_followed", "rule": "pause-before-responding"},
    {"type": "agent_followed", "rule": "issue-warning"},
    {"type": "customer_started_speaking"},
    {"type": "customer_insulted"},
    {"type": "customer_finished_speaking"},
    {"type": "agent_followed", "rule": "part-ways-over-abuse"},
    {"type": "agent_followed", "rule": "end-the-conversation"},
]
call = turn_by_turn(Conversation(channel="phone", mood="upset"), escalation, "en")
print("ended:", call.ended, "| warnings given:", call.state.warnings_given)"""),
    md("""The same call in French and Polish: the decisions are the same in every language, only
the wording changes. Here, from the second insult to the ending:"""),
    code("""start = Conversation(channel="phone", mood="upset")
call_fr = turn_by_turn(start, escalation, "fr", show=range(4, 13))"""),
    code("""call_pl = turn_by_turn(start, escalation, "pl", show=range(4, 13))"""),
    md("""Once the conversation has ended, only what is left to do is advised, and any further
customer event is refused with a clear error."""),
    code("""print([rec.title for rec in call.advise(locale="fr")])
try:
    call.apply({"type": "customer_insulted"})
except Exception as error:
    print(type(error).__name__, "-", error)"""),
    md("## 2. De-escalation in a chat"),
    code("""de_escalation = [
    {"type": "customer_started_speaking"},
    {"type": "customer_finished_speaking"},
    {"type": "facts", "values": {"complaint_validity": "valid"}},
    {"type": "agent_followed", "rule": "restate-the-request"},
    {"type": "agent_followed", "rule": "apologize-and-take-ownership"},
    {"type": "agent_followed", "rule": "show-empathy"},
    {"type": "agent_followed", "rule": "validate-explain-solve"},
    {"type": "facts", "values": {"resolved": True}},
    {"type": "customer_mood", "mood": "calm"},
    {"type": "agent_followed", "rule": "close-the-complaint"},
]
chat = turn_by_turn(Conversation(channel="chat", mood="upset"), de_escalation, "en")"""),
    code("""start = Conversation(channel="chat", mood="upset")
chat_fr = turn_by_turn(start, de_escalation, "fr", show=range(6, 11))"""),
    code("""chat_pl = turn_by_turn(start, de_escalation, "pl", show=range(6, 11))"""),
    md("""## Replay

A conversation's JSON is its event log. Replaying it gives the same states and the same
advice at every turn, which is what a CRM needs to store a conversation and reopen it."""),
    code("""log = chat.to_json()
again = Conversation.from_json(log)
same = [a.to_dict() for a in again.advise_each(locale="pl")] == [
    a.to_dict() for a in chat.advise_each(locale="pl")
]
print(len(log), "bytes;", len(again), "events; same advice at every turn:", same)"""),
    md("""An advice as a notebook shows it (HTML): mid-rant, in person, after a threat."""),
    code("""Conversation(channel="in_person", mood="angry").apply(
    {"type": "customer_started_speaking"}, {"type": "customer_threatened"}
).advise(locale="fr")"""),
]
nb = nbformat.v4.new_notebook(cells=cells)
nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
nb.metadata["language_info"] = {"name": "python"}
NotebookClient(nb, timeout=120, kernel_name="python3").execute()
nbformat.write(nb, str(Path(__file__).resolve().parents[1] / "examples" / "conversation.ipynb"))
print("written")
