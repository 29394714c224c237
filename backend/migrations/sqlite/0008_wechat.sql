-- The shopper's openid for the merchant's WeChat app (from WeChat's silent web authorisation,
-- snsapi_base): what WeChat Pay's JSAPI payment inside WeChat is made out to.
ALTER TABLE shoppers ADD COLUMN wechat_openid TEXT;
