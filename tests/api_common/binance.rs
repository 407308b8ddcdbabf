//! Binance-form requests for the dialect's tests: `timestamp`, `recvWindow` and `signature`
//! as a Binance client adds them (query for GET/DELETE, form body for POST/PUT), the key in
//! `X-MBX-APIKEY`.
#![allow(dead_code)]

use actix_web::test;
use perpx::api::binance::auth::sign;

use super::{call, Creds, Harness, NowMs, Resp, TestApp};

/// Where the parameters go.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum In {
    Query,
    Body,
}

/// `params` + `timestamp` (+ `signature`, last), as a Binance client sends them.
pub fn signed_params(secret: &str, params: &str, ts: u64) -> String {
    let p = if params.is_empty() {
        format!("timestamp={ts}")
    } else {
        format!("{params}&timestamp={ts}")
    };
    let sig = sign(secret, &p, "");
    format!("{p}&signature={sig}")
}

impl Harness {
    /// A signed Binance request; parameters in the query (GET, DELETE) or the body.
    pub fn bn(&self, c: &Creds, method: &str, path: &str, params: &str) -> actix_http::Request {
        let at = if matches!(method, "GET" | "DELETE") {
            In::Query
        } else {
            In::Body
        };
        self.bn_in(c, method, path, params, at)
    }

    pub fn bn_in(
        &self,
        c: &Creds,
        method: &str,
        path: &str,
        params: &str,
        at: In,
    ) -> actix_http::Request {
        let all = signed_params(&c.secret, params, super::fresh_ts(self.clock.now_ms()));
        self.bn_raw(c, method, path, &all, at)
    }

    /// A request with `raw` parameters exactly as given (signature rules tests).
    pub fn bn_raw(
        &self,
        c: &Creds,
        method: &str,
        path: &str,
        raw: &str,
        at: In,
    ) -> actix_http::Request {
        let r = test::TestRequest::default()
            .method(method.parse().unwrap())
            .insert_header(("X-MBX-APIKEY", c.key.as_str()));
        match at {
            In::Query => r.uri(&format!("{path}?{raw}")).to_request(),
            In::Body => r
                .uri(path)
                .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
                .set_payload(raw.to_owned())
                .to_request(),
        }
    }

    /// A public Binance GET.
    pub fn bn_public(&self, target: &str) -> actix_http::Request {
        test::TestRequest::get().uri(target).to_request()
    }
}

/// `s` form-encoded, as a parameter value (JSON lists of `batchOrders` and cancel lists).
pub fn form_encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// One Binance-form request of `c` through `app` (parameters in the query for GET/DELETE,
/// else the body), answered.
pub async fn bn<S: TestApp<B>, B: actix_web::body::MessageBody>(
    h: &Harness,
    app: &S,
    c: &Creds,
    method: &str,
    path: &str,
    params: &str,
) -> Resp {
    call(app, h.bn(c, method, path, params)).await
}
