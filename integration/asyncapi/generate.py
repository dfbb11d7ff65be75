#!/usr/bin/env python3
"""Writes ../asyncapi.json, the AsyncAPI 3.0 document of the integration events.

The contract is described once here, field by field; contract.go copies the
same fields from stored events, and integration's tests validate every message
the relay publishes against this document. Run it after changing the contract:

    python3 integration/asyncapi/generate.py
"""
import json, os

S = {"type": "string"}
I = {"type": "integer"}
B = {"type": "boolean"}
D = {"type": "string", "format": "date", "description": "A calendar day, YYYY-MM-DD."}
UUID = {"type": "string", "format": "uuid"}
STRS = {"type": "array", "items": S}
ALLOC = {"type": "array", "items": {"type": "object", "properties": {"invoice": S, "amount": I},
         "required": ["invoice", "amount"], "additionalProperties": False}}

details_public = {
    "kind": {"type": "string", "enum": ["person", "company"]}, "use_company_name": B, "sms_disabled": B,
    "customer_type": S, "industry": S, "sector": S, "category": S, "category_code": S,
    "source": {"type": "string", "description": "Origin / lead source."}, "service_zone": S, "area": S,
    "salesperson": S, "representative": S, "employees": I, "website": S, "reference_no": S, "external_id": S,
    "external_id_2": S, "payment_term": S, "tax_rate_millionths": I, "tax_exempt": B,
    "email_preferences": {"type": "object", "properties": {"billing": B, "marketing": B, "reports": B}, "additionalProperties": False},
    "kilometres": {"type": "number"},
}
details_personal = {
    "first_name": S, "last_name": S, "business_name": S, "contact_name": S, "email": S,
    "notification_emails": STRS, "invoice_cc_emails": STRS, "statement_email": S,
    "phones": {"type": "array", "items": {"type": "object", "properties": {"number": S, "type": S, "primary": B}, "additionalProperties": False}},
    "addresses": {"type": "array", "items": {"type": "object", "properties": {
        "type": S, "street": S, "city": S, "state": S, "postcode": S, "country": S, "lat": {"type": "number"},
        "lng": {"type": "number"}, "default": B}, "additionalProperties": False}},
    "description": S, "ticket_warning": S,
}

# type: (summary, public fields, personal fields, required public fields)
contract = {
    "customer.registered.v1": ("A customer was registered.", dict(details_public, number=I), details_personal, ["number", "kind"]),
    "customer.changed.v1": ("A customer's details changed: `changed` names every field that did; the public topic carries the new values of the public ones, the personal topic those of the personal ones.",
                            dict(details_public, changed=STRS), details_personal, ["changed"]),
    "customer.archived.v1": ("A customer was archived (out of daily lists; nothing is deleted).", {}, {"reason": S}, []),
    "customer.reenabled.v1": ("An archived customer was brought back.", {}, {}, []),
    "customer.note_added.v1": ("An office note was added.", {"note_id": S, "author_id": S, "at": {"type": "string", "format": "date-time"}},
                               {"text": S, "author_name": S}, ["note_id"]),
    "customer.erased.v1": ("The customer's personal data was erased: delete every copy of it you hold. Sent on both topics.",
                           {"reason": {"type": "string", "enum": ["subject_request", "retention_expired", "legal_order"]}}, None, ["reason"]),
    "invoice.issued.v1": ("An invoice was issued. Amounts are integer minor units of `currency` (ISO 4217).",
                          {"number": S, "issued_on": D, "due_on": D, "term": S, "currency": S, "subtotal": I, "tax": I, "total": I,
                           "tax_rate_millionths": I, "bill_to_company": B, "reference": S}, {}, ["number", "issued_on", "due_on", "currency", "total"]),
    "invoice.voided.v1": ("An invoice was voided.", {"number": S, "voided_on": D, "credit_returned": I}, {"reason": S}, ["number", "voided_on"]),
    "payment.received.v1": ("A payment was received and allocated to invoices; the rest became store credit.",
                            {"payment_id": S, "amount": I, "currency": S, "method": S, "reference": S, "received_on": D,
                             "allocations": ALLOC, "to_credit": I}, {}, ["payment_id", "amount", "currency", "received_on"]),
    "payment.refunded.v1": ("Money of a payment was given back.", {"payment_id": S, "amount": I, "refunded_on": D, "invoices": ALLOC, "from_credit": I},
                            {"reason": S}, ["payment_id", "amount", "refunded_on"]),
    "store_credit.added.v1": ("Store credit was given.", {"amount": I, "currency": S, "added_on": D, "reference": S}, {"message": S},
                              ["amount", "currency", "added_on"]),
    "store_credit.applied.v1": ("Store credit paid an invoice.", {"invoice": S, "amount": I, "applied_on": D}, {}, ["invoice", "amount", "applied_on"]),
    "credit_limit.set.v1": ("The credit limit was set, or removed (`limit` null or absent).", {"limit": {"type": ["integer", "null"]}, "currency": S}, {}, []),
    "credential.created.v1": ("A login was stored for the customer. Its username, password and notes never leave the service.",
                              {"credential_id": UUID, "name": S, "url": S, "public": B, "contact_id": S}, {}, ["credential_id", "name"]),
    "credential.changed.v1": ("A credential was edited (a new password is not said).", {"credential_id": UUID, "name": S, "url": S, "public": B, "contact_id": S},
                              {}, ["credential_id"]),
    "credential.revealed.v1": ("Someone was shown a credential's password.", {"credential_id": UUID}, {}, ["credential_id"]),
    "credential.removed.v1": ("A credential was removed for good.", {"credential_id": UUID}, {}, ["credential_id"]),
}


def envelope(typ, props, required, topic):
    data = {"type": "object", "properties": dict({"customer_id": UUID}, **props),
            "required": ["customer_id"] + required, "additionalProperties": False}
    return {
        "type": "object",
        "properties": {
            "specversion": {"const": "1.0"}, "id": {"type": "string", "description": "The stored event's id: deduplicate by it."},
            "source": {"const": "/customer-service"}, "type": {"const": typ},
            "subject": {"type": "string", "format": "uuid", "description": "The customer."},
            "time": {"type": "string", "format": "date-time"}, "datacontenttype": {"const": "application/json"},
            "partitionkey": {"type": "string", "description": "The customer: events of one customer arrive in order."},
            "position": {"type": "string", "description": "The stored event's global position (commit/prepare): what republish and the SSE stream resume from."},
            "data": data,
        },
        "required": ["specversion", "id", "source", "type", "subject", "time", "partitionkey", "position", "data"],
        "additionalProperties": False,
    }


def name(typ, personal):
    base = "".join(p.capitalize() for p in typ.replace(".v1", "").replace(".", "_").split("_"))
    return base + ("Personal" if personal else "")


messages, public_refs, personal_refs = {}, {}, {}
for typ, (summary, pub, pers, req) in contract.items():
    n = name(typ, False)
    messages[n] = {"name": typ, "title": typ, "summary": summary, "contentType": "application/cloudevents+json",
                   "payload": envelope(typ, pub, req, "public")}
    public_refs[n] = {"$ref": "#/components/messages/" + n}
    if pers is None:  # the erasure: the same message on the personal topic
        personal_refs[n] = {"$ref": "#/components/messages/" + n}
    elif pers:
        pn = name(typ, True)
        ids = {k: v for k, v in pub.items() if k in ("credential_id", "number")}
        messages[pn] = {"name": typ, "title": typ + " (personal)", "summary": summary + " The personal fields.",
                        "contentType": "application/cloudevents+json", "payload": envelope(typ, dict(ids, **pers), [], "personal")}
        personal_refs[pn] = {"$ref": "#/components/messages/" + pn}

doc = {
    "asyncapi": "3.0.0",
    "info": {"title": "Customer service integration events", "version": "1.0.0",
             "description": "What happens to customers, their accounts and their credentials, as CloudEvents 1.0 (structured mode, JSON). "
                            "Delivery is at least once and ordered per customer; deduplicate by `id`. The public topic carries ids, types, "
                            "picklists, flags, dates and money, never a personal value or free text; the personal topic (opt-in, "
                            "`--bus-personal`) carries the personal fields of the same events under the same ids. On `customer.erased.v1` "
                            "delete every copy you hold of the customer. A credential's password, notes and username are never published."},
    "defaultContentType": "application/cloudevents+json",
    "servers": {
        "redis": {"host": "localhost:6379", "protocol": "redis", "description": "Redis Streams (`--bus redis`): one stream per topic, the CloudEvent in the `payload` field; trimmed to about `--bus-max-len` events."},
        "nats": {"host": "localhost:4222", "protocol": "nats", "description": "NATS JetStream (`--bus nats`): one stream per topic, subject = topic; Nats-Msg-Id is the CloudEvents id."},
    },
    "channels": {
        "customerEvents": {"address": "customer-events-v1", "title": "Public integration events", "messages": public_refs},
        "customerEventsPersonal": {"address": "customer-events-personal-v1", "title": "Personal fields, for trusted consumers", "messages": personal_refs},
    },
    "operations": {
        "publishCustomerEvents": {"action": "send", "channel": {"$ref": "#/channels/customerEvents"},
                                  "messages": [{"$ref": "#/channels/customerEvents/messages/" + k} for k in public_refs]},
        "publishCustomerEventsPersonal": {"action": "send", "channel": {"$ref": "#/channels/customerEventsPersonal"},
                                          "messages": [{"$ref": "#/channels/customerEventsPersonal/messages/" + k} for k in personal_refs]},
    },
    "components": {"messages": messages},
}
out = os.path.join(os.path.dirname(__file__), "..", "asyncapi.json")
with open(out, "w") as f:
    json.dump(doc, f, indent=1, ensure_ascii=False)
    f.write("\n")
