"""Telling a partner that one of its turns was rated (``feedback.created``): only turns it
may receive (see the export's consent rule), under its own turn ids."""

from __future__ import annotations

import uuid
from collections import defaultdict

from sqlalchemy.ext.asyncio import AsyncSession

from previewgate.crypto import KeyCipher
from previewgate.partners import export_queries
from previewgate.partners.ids import keyed_id
from previewgate.partners.service import get_partner, partner_secret
from previewgate.webhooks import events


async def feedback_rated(
    session: AsyncSession,
    cipher: KeyCipher,
    usage_id: uuid.UUID | None,
    client_request_id: str | None,
    rating: str,
) -> None:
    turns: defaultdict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for partner_id, turn in await export_queries.consented_partner_turns(
        session, usage_id, client_request_id
    ):
        turns[partner_id].append(turn)
    for partner_id, usage_ids in sorted(turns.items(), key=lambda item: str(item[0])):
        secret = partner_secret(cipher, await get_partner(session, partner_id))
        turn_ids = [keyed_id(secret, "turn", str(u)) for u in usage_ids]
        await events.feedback_created(session, partner_id, turn_ids, rating)
