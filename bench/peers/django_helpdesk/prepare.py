"""Make a fresh peer database for one load run and print what the loader needs as JSON.

    PEERDESK_STATE=/tmp/x <peer venv>/bin/python prepare.py --agents 6

Migrates (the helpdesk's migrations load its e-mail templates), then creates one queue, a
staff account for the channels and one per agent (the API is for staff: IsAdminUser), each
with a DRF token. Runs in the peer's virtualenv.
"""

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peerdesk.settings")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=6)
    args = parser.parse_args()

    import django  # type: ignore[import-not-found]  # the peer's own virtualenv
    from django.core.management import call_command  # type: ignore[import-not-found]  # the peer's own virtualenv

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)

    from django.contrib.auth import get_user_model  # type: ignore[import-not-found]  # the peer's own virtualenv
    from helpdesk.models import Queue  # type: ignore[import-not-found]  # the peer's own virtualenv
    from rest_framework.authtoken.models import Token  # type: ignore[import-not-found]  # the peer's own virtualenv

    users = get_user_model()
    queue = Queue.objects.create(title="Customer service", slug="CS", allow_public_submission=True)

    def staff(username: str) -> dict:
        user = users.objects.create_user(username, f"{username}@peerdesk.example", None, is_staff=True)
        return {"id": user.id, "username": username, "token": Token.objects.create(user=user).key}

    print(
        json.dumps(
            {
                "queue": queue.id,
                "channel": staff("channel"),
                "agents": [staff(f"agent-{n}") for n in range(1, args.agents + 1)],
            }
        )
    )


if __name__ == "__main__":
    main()
