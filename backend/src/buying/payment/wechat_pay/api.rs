//! WeChat Pay's API calls: a signed request, its signed answer checked, the documented errors
//! read (create, query, refund, close).

use super::*;

impl WechatPay {
    /// One signed call; the answer's signature is checked before its body is read.
    pub(super) async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), WxError> {
        let body = body.map(Value::to_string).unwrap_or_default();
        let ts = now_s();
        let nonce = nonce()?;
        let url = format!("{}{path}", self.cfg.base_url.trim_end_matches('/'));
        let mut req = match method {
            "GET" => self.client.get(&url),
            _ => self.client.post(&url).body(body.clone()),
        };
        req = req
            .header(
                "Authorization",
                self.authorization(method, path, &body, ts, &nonce),
            )
            .header("Accept", "application/json")
            .header("Content-Type", "application/json")
            .header("User-Agent", "live-shopping/wechatpay-v3");
        let res = req
            .send()
            .await
            .map_err(|e| WxError::Unreachable(e.without_url().to_string()))?;
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let bytes = res
            .bytes()
            .await
            .map_err(|e| WxError::Unreachable(e.without_url().to_string()))?;
        self.verify(&Signed::from_headers(&headers), &bytes, now_s())?;
        let v: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).map_err(|e| WxError::Undecodable(e.to_string()))?
        };
        Ok((status, v))
    }

    pub(super) fn refused(status: u16, v: &Value) -> WxError {
        WxError::Refused {
            status,
            code: v["code"].as_str().unwrap_or("").to_string(),
            message: v["message"].as_str().unwrap_or("").to_string(),
        }
    }

    /// Creates the platform's order for `out_trade_no` (asking again for the same number
    /// answers the same prepay while it is unpaid).
    pub async fn create(
        &self,
        channel: &Channel,
        out_trade_no: &str,
        description: &str,
        total_fen: i64,
    ) -> Result<Prepay, WxError> {
        let mut body = json!({
            "appid": self.cfg.appid,
            "mchid": self.cfg.mchid,
            "description": description.chars().take(127).collect::<String>(),
            "out_trade_no": out_trade_no,
            "notify_url": self.cfg.notify_url,
            "amount": { "total": total_fen, "currency": "CNY" },
        });
        let kind = match channel {
            Channel::Jsapi { openid } => {
                body["payer"] = json!({ "openid": openid });
                "jsapi"
            }
            Channel::H5 { client_ip } => {
                body["scene_info"] =
                    json!({ "payer_client_ip": client_ip, "h5_info": { "type": "Wap" } });
                "h5"
            }
            Channel::Native => "native",
        };
        let (status, v) = self
            .call("POST", &format!("/v3/pay/transactions/{kind}"), Some(&body))
            .await?;
        if status != 200 {
            return Err(Self::refused(status, &v));
        }
        let field = |k: &str| {
            v[k].as_str()
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .ok_or_else(|| WxError::Undecodable(format!("no {k} in the answer")))
        };
        Ok(match channel {
            Channel::Jsapi { .. } => Prepay::Jsapi {
                params: self.jsapi_params(&field("prepay_id")?, now_s(), &nonce()?),
            },
            Channel::H5 { .. } => Prepay::H5 {
                h5_url: field("h5_url")?,
            },
            Channel::Native => Prepay::Native {
                code_url: field("code_url")?,
            },
        })
    }

    /// The platform's record of the payment for `out_trade_no`; `None` when it has none.
    pub async fn query(&self, out_trade_no: &str) -> Result<Option<Transaction>, WxError> {
        let path = format!(
            "/v3/pay/transactions/out-trade-no/{}?mchid={}",
            crate::domain::text::percent_encode(out_trade_no),
            crate::domain::text::percent_encode(&self.cfg.mchid)
        );
        let (status, v) = self.call("GET", &path, None).await?;
        match status {
            200 => transaction_from(&v).map(Some),
            404 if v["code"] == "ORDER_NOT_EXIST" => Ok(None),
            _ => Err(Self::refused(status, &v)),
        }
    }

    /// Refunds `refund` fen of the payment for `out_trade_no` (of `total`); the same
    /// `out_refund_no` asked again is the same refund.
    pub async fn refund(
        &self,
        out_trade_no: &str,
        out_refund_no: &str,
        refund: i64,
        total: i64,
        reason: &str,
    ) -> Result<Refund, WxError> {
        let body = json!({
            "out_trade_no": out_trade_no,
            "out_refund_no": out_refund_no,
            "reason": reason.chars().take(80).collect::<String>(),
            "notify_url": self.cfg.notify_url,
            "amount": { "refund": refund, "total": total, "currency": "CNY" },
        });
        let (status, v) = self
            .call("POST", "/v3/refund/domestic/refunds", Some(&body))
            .await?;
        if status != 200 {
            return Err(Self::refused(status, &v));
        }
        refund_from(&v)
    }

    /// Closes the platform's unpaid order (ours was released): it can no longer be paid.
    pub async fn close(&self, out_trade_no: &str) -> Result<(), WxError> {
        let path = format!(
            "/v3/pay/transactions/out-trade-no/{}/close",
            crate::domain::text::percent_encode(out_trade_no)
        );
        let body = json!({ "mchid": self.cfg.mchid });
        let (status, v) = self.call("POST", &path, Some(&body)).await?;
        match status {
            200 | 204 => Ok(()),
            _ => Err(Self::refused(status, &v)),
        }
    }
}

pub(super) fn transaction_from(v: &Value) -> Result<Transaction, WxError> {
    let out_trade_no = v["out_trade_no"]
        .as_str()
        .ok_or_else(|| WxError::Undecodable("no out_trade_no".into()))?;
    Ok(Transaction {
        out_trade_no: out_trade_no.to_string(),
        transaction_id: v["transaction_id"].as_str().map(str::to_string),
        trade_state: v["trade_state"].as_str().unwrap_or("").to_string(),
        total: v["amount"]["total"].as_i64().unwrap_or(0),
    })
}

pub(super) fn refund_from(v: &Value) -> Result<Refund, WxError> {
    let text = |k: &str| v[k].as_str().map(str::to_string);
    Ok(Refund {
        out_trade_no: text("out_trade_no").unwrap_or_default(),
        out_refund_no: text("out_refund_no")
            .ok_or_else(|| WxError::Undecodable("no out_refund_no".into()))?,
        refund_id: text("refund_id"),
        // The answer says `status`, a notification `refund_status`.
        status: text("status")
            .or_else(|| text("refund_status"))
            .unwrap_or_default(),
        refund: v["amount"]["refund"].as_i64().unwrap_or(0),
    })
}

pub(super) fn now_s() -> i64 {
    crate::now_ms() / 1000
}

/// A 32-character random nonce.
pub(super) fn nonce() -> Result<String, WxError> {
    let bytes =
        crypto::random_bytes::<16>().map_err(|_| WxError::Config("no randomness".into()))?;
    Ok(bytes.iter().map(|b| format!("{b:02X}")).collect())
}
