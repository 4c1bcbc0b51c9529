"""Try the bot without Telegram: the tests' fake Bot API server, with one chat you type into.

    .venv/bin/python -m tests.telegram_console --port 8081
    # in another terminal, with the values it prints:
    LOKET_TELEGRAM_TOKEN=... LOKET_TELEGRAM_API_URL=http://127.0.0.1:8081 .venv/bin/loket demo

Each line you type is sent as a message from the chat; `!press LABEL` presses the button with
that label under the bot's newest message that shows it; `!lang en` makes the chat's Telegram
language English; `!quit` ends. What the bot sends is printed with its buttons.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from .fakebotapi import TOKEN, Call, FakeBotAPI

SEND_OR_EDIT = ("sendMessage", "sendPhoto", "sendDocument", "editMessageText")


def show(call: Call) -> str:
    head = "(edited) " if call.method == "editMessageText" else ""
    lines = [f"bot: {head}{call.text or call.params.get('caption') or call.method}"]
    if call.buttons:
        lines.append("     [" + "] [".join(call.buttons) + "]")
    return "\n".join(lines)


async def echo(fake: FakeBotAPI, chat_id: int) -> None:
    seen = 0
    while True:
        calls = await fake.wait_for(SEND_OR_EDIT, chat_id=chat_id, count=seen + 1, timeout=3600)
        for call in calls[seen:]:
            print(show(call), flush=True)
        seen = len(calls)


async def console(port: int, language: str) -> None:
    fake = FakeBotAPI(TOKEN)
    fake.port = port
    async with fake:
        chat = fake.private_chat("Anna", language_code=language)
        print(f"LOKET_TELEGRAM_TOKEN={fake.token}")
        print(f"LOKET_TELEGRAM_API_URL={fake.url}")
        print("Type a message; !press LABEL, !lang nl|en, !quit.", flush=True)
        printer = asyncio.create_task(echo(fake, chat.id))
        loop = asyncio.get_running_loop()
        try:
            while (line := await loop.run_in_executor(None, sys.stdin.readline)) != "":
                line = line.rstrip("\n")
                if line == "!quit":
                    break
                if line.startswith("!press "):
                    try:
                        chat.press(line.removeprefix("!press "))
                    except AssertionError as exc:
                        print(exc, flush=True)
                elif line.startswith("!lang "):
                    chat.sender["language_code"] = line.removeprefix("!lang ").strip()
                elif line.startswith("/"):
                    name, _, rest = line[1:].partition(" ")
                    chat.command(name, *rest.split())
                elif line:
                    chat.send(line)
        finally:
            printer.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--language", default="nl", help="the chat's Telegram language")
    args = parser.parse_args()
    asyncio.run(console(args.port, args.language))


if __name__ == "__main__":
    main()
