"""REST routes for reading and verifying the audit trail (admins and auditors)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from modelyard.audit.chain import verify_chain
from modelyard.audit.tables import audit_log
from modelyard.core.auth import require
from modelyard.server.deps import json_response

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("", dependencies=[Depends(require("audit.read"))])
def list_records(request: Request, after_seq: int = 0, limit: int = Query(100, ge=1, le=1000)) -> Response:
    """Audit records after ``after_seq``, oldest first."""
    db = request.app.state.store.db
    with db.read() as conn:
        rows = (
            conn.execute(
                select(audit_log).where(audit_log.c.seq > after_seq).order_by(audit_log.c.seq).limit(limit)
            )
            .mappings()
            .all()
        )
    return json_response([{str(k): v for k, v in r.items()} for r in rows])


@router.get("/verify", dependencies=[Depends(require("audit.read"))])
def verify(request: Request) -> Response:
    """Recompute the hash chain and report the first broken record, if any."""
    result = verify_chain(request.app.state.store.db)
    return json_response(
        {
            "ok": result.ok,
            "records": result.records,
            "first_bad_seq": result.first_bad_seq,
            "problem": result.problem,
        }
    )
