//! WeChat Pay API v3 through the project's client (`shop_backend::buying::payment::wechat_pay`) against the
//! local WeChat Pay server of the tests (`crate::common::wechat_pay`): real RSA signatures both ways,
//! real AES-256-GCM notifications, keys generated per run; no network.

use std::sync::{Arc, Mutex};

use crate::common::wechat_pay::{self as wx, WechatPayServer};
use axum::{body::Bytes, extract::State, http::HeaderMap, http::StatusCode, routing::post, Router};
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use shop_backend::buying::payment::wechat_pay::{
    Channel, Notice, Prepay, Signed, WechatPay, WxError,
};

/// A merchant endpoint that checks notifications with the client and keeps what it accepted.
#[derive(Clone)]
struct Receiver {
    pay: Arc<WechatPay>,
    got: Arc<Mutex<Vec<Notice>>>,
}

async fn receive(
    State(r): State<Receiver>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    match r
        .pay
        .notification(&Signed::from_headers(&headers), &body, wx::now_s())
    {
        Ok(n) => {
            r.got.lock().unwrap().push(n);
            (StatusCode::NO_CONTENT, String::new())
        }
        Err(e) => (
            StatusCode::UNAUTHORIZED,
            format!("{{\"code\":\"FAIL\",\"message\":\"{e}\"}}"),
        ),
    }
}

/// The platform, a merchant client for it and the merchant's notification endpoint.
async fn setup() -> (WechatPayServer, Arc<WechatPay>, Receiver, String) {
    let platform = WechatPayServer::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let notify_url = format!("http://{}/notify", listener.local_addr().unwrap());
    let pay = Arc::new(
        WechatPay::new(wx::merchant_config(&platform.url(), &notify_url)).expect("config"),
    );
    let receiver = Receiver {
        pay: pay.clone(),
        got: Arc::default(),
    };
    let app = Router::new()
        .route("/notify", post(receive))
        .with_state(receiver.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (platform, pay, receiver, notify_url)
}

async fn wait_for(got: &Mutex<Vec<Notice>>, n: usize) {
    for _ in 0..100 {
        if got.lock().unwrap().len() >= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("no notification arrived");
}

#[tokio::test]
async fn a_jsapi_payment_goes_from_order_to_verified_notification_and_query() {
    let (platform, pay, receiver, _) = setup().await;
    let channel = Channel::Jsapi {
        openid: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o".into(),
    };
    let Prepay::Jsapi { params } = pay
        .create(&channel, "order-1", "Demo lipstick", 12_950)
        .await
        .expect("created")
    else {
        panic!("JSAPI parameters")
    };
    // Unpaid: the platform knows the order, not paid yet.
    let tx = pay.query("order-1").await.expect("query").expect("known");
    assert_eq!((tx.trade_state.as_str(), tx.total), ("NOTPAY", 12_950));
    // Asking again for the same number is the same prepay (no second order).
    let Prepay::Jsapi { params: again } = pay
        .create(&channel, "order-1", "Demo lipstick", 12_950)
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(again.package, params.package);
    // The page hands the signed parameters to WeixinJSBridge; the shopper pays.
    let answer = platform
        .bridge_pay(&serde_json::to_value(&params).unwrap())
        .await
        .expect("paySign verified");
    assert_eq!(answer, 204, "the merchant accepted the notification");
    wait_for(&receiver.got, 1).await;
    let Notice::Transaction { tx, .. } = receiver.got.lock().unwrap()[0].clone() else {
        panic!("a payment")
    };
    assert_eq!(
        (tx.out_trade_no.as_str(), tx.trade_state.as_str(), tx.total),
        ("order-1", "SUCCESS", 12_950)
    );
    let queried = pay.query("order-1").await.unwrap().unwrap();
    assert_eq!(queried.trade_state, "SUCCESS");
    assert_eq!(queried.transaction_id, tx.transaction_id);
    // Paid: creating it again is refused, and the provider answers from the query instead.
    let err = pay
        .create(&channel, "order-1", "Demo lipstick", 12_950)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, WxError::Refused { code, .. } if code == "ORDERPAID"),
        "{err:?}"
    );
    assert_eq!(pay.query("order-404").await, Ok(None));
    // A tampered pay sign never reaches the platform's books.
    let mut forged = serde_json::to_value(&params).unwrap();
    forged["package"] = serde_json::json!("prepay_id=wx000000000000000000000000000099");
    assert!(platform.bridge_pay(&forged).await.is_err());
}

#[tokio::test]
async fn native_and_h5_orders_give_a_qr_code_and_a_url() {
    let (platform, pay, _, _) = setup().await;
    let Prepay::Native { code_url } = pay
        .create(&Channel::Native, "order-7", "Serum", 9_900)
        .await
        .unwrap()
    else {
        panic!()
    };
    assert!(
        code_url.starts_with("weixin://wxpay/bizpayurl?pr="),
        "{code_url}"
    );
    let h5 = pay
        .create(
            &Channel::H5 {
                client_ip: "203.0.113.9".into(),
            },
            "order-8",
            "Serum",
            9_900,
        )
        .await
        .unwrap();
    let Prepay::H5 { h5_url } = h5 else { panic!() };
    assert!(h5_url.starts_with("https://wx.tenpay.com/"), "{h5_url}");
    assert_eq!(platform.trade("order-8").unwrap().kind, "h5");
    // The same number with another amount is another order: refused.
    let err = pay
        .create(&Channel::Native, "order-7", "Serum", 1)
        .await
        .unwrap_err();
    assert!(
        matches!(err, WxError::Refused { status: 400, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn refunds_are_idempotent_bounded_and_notified() {
    let (platform, pay, receiver, _) = setup().await;
    pay.create(&Channel::Native, "order-3", "Cream", 20_000)
        .await
        .unwrap();
    let err = pay
        .refund("order-3", "refund-3-1", 20_000, 20_000, "unpaid")
        .await
        .unwrap_err();
    assert!(
        matches!(err, WxError::Refused { status: 403, .. }),
        "an unpaid order has nothing to refund: {err:?}"
    );
    assert_eq!(platform.pay("order-3").await, Ok(204));
    let r = pay
        .refund("order-3", "refund-3-1", 5_000, 20_000, "one unit back")
        .await
        .expect("refund");
    assert_eq!((r.status.as_str(), r.refund), ("SUCCESS", 5_000));
    let same = pay
        .refund("order-3", "refund-3-1", 5_000, 20_000, "one unit back")
        .await
        .unwrap();
    assert_eq!(
        same.refund_id, r.refund_id,
        "the same refund number is the same refund"
    );
    let err = pay
        .refund("order-3", "refund-3-2", 15_001, 20_000, "too much")
        .await
        .unwrap_err();
    assert!(
        matches!(err, WxError::Refused { status: 400, .. }),
        "{err:?}"
    );
    wait_for(&receiver.got, 2).await;
    let got = receiver.got.lock().unwrap().clone();
    assert!(got.iter().any(|n| matches!(n, Notice::Refund { refund, .. } if refund.out_refund_no == "refund-3-1" && refund.status == "SUCCESS" && refund.refund == 5_000)), "{got:?}");
    assert_eq!(
        pay.query("order-3").await.unwrap().unwrap().trade_state,
        "REFUND"
    );
}

#[tokio::test]
async fn forged_tampered_and_replayed_notifications_are_refused() {
    let (platform, pay, receiver, notify_url) = setup().await;
    pay.create(&Channel::Native, "order-5", "Mask", 3_000)
        .await
        .unwrap();
    let mut trade = platform.trade("order-5").unwrap();
    trade.state = "SUCCESS".into();
    trade.transaction_id = Some("4200000001".into());
    let body = wx::notification(
        "TRANSACTION.SUCCESS",
        "transaction",
        &wx::trade_json("order-5", &trade),
    );
    let (_, platform_key, stranger) = wx::keys();
    // Signed by someone else's key.
    assert_eq!(
        platform
            .notify(&notify_url, &body, wx::now_s(), stranger)
            .await,
        Ok(401)
    );
    // Signed, then changed on the way (the signature covers the exact bytes).
    let tampered = body.replacen("TRANSACTION.SUCCESS", "TRANSACTION.SUCCESS ", 1);
    let ts = wx::now_s();
    let nonce = "ABCDEF0123456789ABCDEF0123456789";
    let signature = wx::sign(platform_key, &format!("{ts}\n{nonce}\n{body}\n"));
    let res = reqwest::Client::new()
        .post(&notify_url)
        .header("Wechatpay-Timestamp", ts.to_string())
        .header("Wechatpay-Nonce", nonce)
        .header("Wechatpay-Signature", signature)
        .header("Wechatpay-Serial", wx::PLATFORM_SERIAL)
        .body(tampered)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // Replayed an hour later: its timestamp is outside the 5-minute window.
    assert_eq!(
        platform
            .notify(&notify_url, &body, wx::now_s() - 3600, platform_key)
            .await,
        Ok(401)
    );
    assert!(receiver.got.lock().unwrap().is_empty(), "nothing accepted");
    // The genuine one is accepted.
    assert_eq!(
        platform
            .notify(&notify_url, &body, wx::now_s(), platform_key)
            .await,
        Ok(204)
    );
    assert_eq!(receiver.got.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn answers_not_signed_by_the_platform_are_refused_and_so_are_requests_not_signed_by_us() {
    let (platform, pay, _, notify_url) = setup().await;
    platform
        .forge_answers
        .store(true, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(
        pay.create(&Channel::Native, "order-9", "Tint", 100).await,
        Err(WxError::BadSignature)
    );
    assert_eq!(pay.query("order-9").await, Err(WxError::BadSignature));
    platform
        .forge_answers
        .store(false, std::sync::atomic::Ordering::Relaxed);
    // A client holding another private key under our merchant id: the platform refuses it.
    let mut cfg = wx::merchant_config(&platform.url(), &notify_url);
    cfg.private_key_pem = wx::keys()
        .2
        .to_pkcs8_pem(LineEnding::LF)
        .unwrap()
        .to_string();
    let impostor = WechatPay::new(cfg).unwrap();
    let err = impostor
        .create(&Channel::Native, "order-10", "Tint", 100)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, WxError::Refused { status: 401, code, .. } if code == "SIGN_ERROR"),
        "{err:?}"
    );
    assert!(platform.trade("order-10").is_none());
}
