"""The partner's trace export files: the list with sha256s, and downloads (with Range)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from previewgate.admin_pages.actions import reading
from previewgate.admin_pages.rendering import PageRoute, render
from previewgate.deps import RuntimeDep
from previewgate.partner_pages.auth import MemberPage
from previewgate.partners import portal, queries
from previewgate.partners.download import download, file_name

router = APIRouter(route_class=PageRoute)


@router.get("/exports")
async def export_list(request: Request, runtime: RuntimeDep, found: MemberPage) -> Response:
    async with reading(runtime) as session:
        files = await queries.export_files(session, found.member.partner_id)
    rows = [(f, file_name(f)) for f in files]
    return render(request, "partner/exports.html", member=found.member, rows=rows)


@router.get("/exports/{file_id}/download")
async def export_download(
    file_id: uuid.UUID, request: Request, runtime: RuntimeDep, found: MemberPage
) -> Response:
    async with reading(runtime) as session:
        file = await portal.export_file(session, file_id, found.member.partner_id)
    return await download(request, runtime.blobs, file)
