"""The local API (`automix serve`) driven by the official `openai` Python package, a client no one
here wrote: every model streamed and not, the usage fields and the `automix` extension, the errors
as that package raises them, then 8 concurrent clients for a while. Exits non-zero on any failure.

Usage: clients.py BASE_URL TOKEN HISTORY_DB BUDGET LOAD_SECONDS TRANSCRIPT
"""

import json
import sqlite3
import sys
import threading
import time

import openai
from openai import OpenAI

BASE_URL, TOKEN, HISTORY_DB, BUDGET, LOAD_SECONDS, TRANSCRIPT = sys.argv[1:7]
BUDGET = float(BUDGET)
LOAD_SECONDS = float(LOAD_SECONDS)
MODELS = ["automix", "automix-local", "automix-docs"]
MUSEUM = "The Brindlewood museum opens at 9 am and closes at 5 pm on weekdays. Entry costs 12 euros."
failures = []
transcript = open(TRANSCRIPT, "w")


def check(condition, what):
    if not condition:
        failures.append(what)
        print(f"FAIL: {what}", file=sys.stderr)


def record(title, request, response):
    transcript.write(f"## {title}\n\nrequest:\n```json\n{json.dumps(request, indent=2)}\n```\n\nresponse:\n```\n{response}\n```\n\n")


def messages(model):
    if model == "automix-docs":
        return [{"role": "user", "content": "How much does entry to the Brindlewood museum cost?"}]
    return [{"role": "system", "content": MUSEUM}, {"role": "user", "content": "When does the Brindlewood museum open?"}]


def api_answers(client_prefix):
    with sqlite3.connect(HISTORY_DB) as db:
        return db.execute(
            "SELECT COUNT(*), COALESCE(SUM(q.cost_nanos), 0) FROM questions q JOIN conversations c ON c.id = q.conversation_id WHERE c.api_client LIKE ?",
            (client_prefix + "%",),
        ).fetchone()


client = OpenAI(base_url=BASE_URL, api_key=TOKEN, max_retries=0, timeout=120)
print(f"openai {openai.__version__} against {BASE_URL}")

# The models.
listed = [model.id for model in client.models.list()]
record("GET /v1/models", {}, json.dumps(listed))
check(listed == MODELS, f"models listed: {listed}")

# Each model, not streamed: the answer, its usage, the decision in a header and the extension.
for model in MODELS:
    request = {"model": model, "messages": messages(model), "user": "python-check"}
    raw = client.chat.completions.with_raw_response.create(**request)
    completion = raw.parse()
    extension = (completion.model_extra or {}).get("automix", {})
    record(f"{model}, not streamed", request, completion.model_dump_json(indent=2) + f"\nx-automix-decision: {raw.headers.get('x-automix-decision')}")
    check(bool(completion.choices[0].message.content.strip()), f"{model}: an empty answer")
    check(completion.choices[0].finish_reason == "stop", f"{model}: finish_reason {completion.choices[0].finish_reason}")
    check(completion.model == model, f"{model}: the response names {completion.model}")
    check(completion.usage.prompt_tokens > 0 and completion.usage.completion_tokens > 0, f"{model}: usage {completion.usage}")
    check(completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens, f"{model}: total_tokens")
    check(raw.headers.get("x-automix-decision") == extension.get("decision"), f"{model}: header and extension disagree")
    check(isinstance(extension.get("local_confidence"), float), f"{model}: no confidence in {extension}")
    if model == "automix-local":
        check(extension.get("decision") == "stay_local", f"automix-local escalated: {extension}")
    if model == "automix-docs":
        check(any("museum" in c["label"].lower() for c in extension.get("citations", [])), f"automix-docs cites {extension.get('citations')}")

# Each model, streamed, with the usage chunk.
for model in MODELS:
    request = {"model": model, "messages": messages(model), "stream": True, "stream_options": {"include_usage": True}, "user": "python-check"}
    started = time.monotonic()
    first = None
    text = []
    usage = None
    finish = None
    extension = None
    for chunk in client.chat.completions.create(**request):
        if chunk.choices:
            delta = chunk.choices[0].delta.content
            if delta:
                first = first or time.monotonic() - started
                text.append(delta)
            if chunk.choices[0].finish_reason:
                finish = chunk.choices[0].finish_reason
                extension = (chunk.model_extra or {}).get("automix")
        if chunk.usage:
            usage = chunk.usage
    answer = "".join(text)
    record(f"{model}, streamed", request, f"{len(text)} deltas, first after {first:.3f} s: {answer!r}\nusage: {usage}\nautomix: {json.dumps(extension)}")
    check(bool(answer.strip()), f"{model} streamed nothing")
    check(finish == "stop" and extension is not None, f"{model}: the stream did not finish with the extension")
    check(usage is not None and usage.completion_tokens > 0, f"{model}: no usage chunk")
    if model == "automix-local":
        check(len(text) > 3, f"automix-local streamed {len(text)} deltas, not token by token")

# Errors, as the package raises them.
errors = [
    ("unknown model", openai.NotFoundError, lambda: client.chat.completions.create(model="gpt-9", messages=messages("automix"))),
    ("wrong token", openai.AuthenticationError, lambda: OpenAI(base_url=BASE_URL, api_key="amx-wrong", max_retries=0).models.list()),
    ("no messages", openai.BadRequestError, lambda: client.chat.completions.create(model="automix", messages=[])),
    ("too long", openai.BadRequestError, lambda: client.chat.completions.create(model="automix", messages=[{"role": "system", "content": "word " * 5000}, {"role": "user", "content": "q"}])),
]
for name, expected, call in errors:
    try:
        call()
        check(False, f"{name}: no error")
    except expected as error:
        record(f"error: {name}", {}, f"{type(error).__name__} {error.status_code}: {error.body}")
        check(isinstance(error.body, dict) and error.body.get("code") and error.body.get("message"), f"{name}: body {error.body}")
    except Exception as error:  # noqa: BLE001 - any other exception is the failure
        check(False, f"{name}: raised {type(error).__name__}: {error}")

# 8 concurrent clients: each request answered or refused with 429 (then the client waits as told).
counts = {"answered": 0, "refused": 0, "lost": 0}
lock = threading.Lock()
deadline = time.monotonic() + LOAD_SECONDS


def load(number):
    mine = OpenAI(base_url=BASE_URL, api_key=TOKEN, max_retries=0, timeout=300)
    round_ = 0
    while time.monotonic() < deadline:
        model = MODELS[(number + round_) % 3]
        round_ += 1
        try:
            if round_ % 2:
                mine.chat.completions.create(model=model, messages=messages(model), user=f"load-{number}")
            else:
                for _ in mine.chat.completions.create(model=model, messages=messages(model), user=f"load-{number}", stream=True):
                    pass
            outcome = "answered"
        except openai.RateLimitError as error:
            outcome = "refused"
            time.sleep(min(float(error.response.headers.get("retry-after", "1")), 5))
        except Exception as error:  # noqa: BLE001
            outcome = "lost"
            print(f"client {number}: {type(error).__name__}: {error}", file=sys.stderr)
        with lock:
            counts[outcome] += 1


threads = [threading.Thread(target=load, args=(n,)) for n in range(8)]
started = time.monotonic()
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
elapsed = time.monotonic() - started
recorded, cost_nanos = api_answers("load-")
_, all_cost = api_answers("")
summary = {**counts, "seconds": round(elapsed, 1), "recorded_in_history": recorded, "api_cost": all_cost / 1e9, "budget": BUDGET}
record("8 concurrent clients", {"seconds": LOAD_SECONDS}, json.dumps(summary))
print(json.dumps(summary))
check(counts["lost"] == 0, f"{counts['lost']} requests were neither answered nor refused")
check(counts["answered"] > 0 and counts["refused"] > 0, f"the load neither queued nor refused: {counts}")
check(recorded == counts["answered"], f"History has {recorded} load requests, {counts['answered']} were answered")
check(all_cost / 1e9 <= BUDGET + 1e-12, f"spent {all_cost / 1e9} over the budget {BUDGET}")

transcript.close()
if failures:
    print(f"{len(failures)} failures", file=sys.stderr)
    sys.exit(1)
print("all checks passed")
