//! The Stripe implementation of [`PaymentProvider`], through `async-stripe`: Checkout
//! Sessions (Stripe's hosted payment page) and Refunds. Only the request building lives
//! here; what to do with orders is in the parent module, and webhook signatures in
//! `webhook.rs`.

use std::collections::HashMap;
use std::str::FromStr;

use async_trait::async_trait;
use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_checkout::CheckoutSessionMode;
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionLineItemsPriceData,
    ProductData,
};
use stripe_core::refund::CreateRefund;
use stripe_types::Currency;

use super::{Checkout, CheckoutRequest, PaymentProvider, ProviderError, RefundRequest};
use crate::config::Secret;

/// Stripe's production API.
pub const DEFAULT_API_BASE: &str = "https://api.stripe.com/";

/// Talks to Stripe (or to whatever speaks its API at the configured base URL).
pub struct StripeProvider {
    client: Client,
}

impl std::fmt::Debug for StripeProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The client holds the secret key: show nothing of it.
        f.debug_struct("StripeProvider").finish_non_exhaustive()
    }
}

impl StripeProvider {
    /// A client for `api_base` (default: Stripe's) with the secret key.
    pub fn new(secret_key: &Secret, api_base: Option<&str>) -> Result<Self, ProviderError> {
        let mut base = api_base.unwrap_or(DEFAULT_API_BASE).to_owned();
        if !base.ends_with('/') {
            base.push('/');
        }
        let client = ClientBuilder::new(secret_key.expose())
            .url(base)
            .build()
            .map_err(|e| ProviderError::Config(e.to_string()))?;
        Ok(Self { client })
    }
}

/// Stripe's error without request details: its message names the failing parameter, never
/// the key.
fn provider_error(e: StripeError) -> ProviderError {
    match e {
        StripeError::Stripe(err, status) => ProviderError::Rejected {
            status,
            message: err.message.unwrap_or_else(|| "no message".into()),
        },
        StripeError::ConfigError(m) => ProviderError::Config(m),
        other => ProviderError::Unavailable(other.to_string()),
    }
}

fn idempotency(key: &str) -> Result<RequestStrategy, ProviderError> {
    IdempotencyKey::new(key)
        .map(RequestStrategy::Idempotent)
        .map_err(|e| ProviderError::Config(e.to_string()))
}

#[async_trait]
impl PaymentProvider for StripeProvider {
    fn name(&self) -> &'static str {
        "stripe"
    }

    async fn create_checkout(&self, request: &CheckoutRequest) -> Result<Checkout, ProviderError> {
        let currency = Currency::from_str(&request.currency.to_ascii_lowercase())
            .map_err(|_| ProviderError::Config("currency".into()))?;
        let line_items: Vec<CreateCheckoutSessionLineItems> = request
            .lines
            .iter()
            .map(|line| {
                let mut price = CreateCheckoutSessionLineItemsPriceData::new(currency.clone());
                price.unit_amount = Some(line.unit_amount_cents);
                price.product_data = Some(ProductData {
                    description: None,
                    images: None,
                    metadata: None,
                    name: line.name.clone(),
                    tax_code: None,
                    tax_details: None,
                    unit_label: None,
                });
                let mut item = CreateCheckoutSessionLineItems::new();
                item.price_data = Some(price);
                item.quantity = Some(line.quantity);
                item
            })
            .collect();
        let order_id = request.order_id.to_string();
        let metadata = HashMap::from([("order_id".to_owned(), order_id.clone())]);
        let session = CreateCheckoutSession::new()
            .mode(CheckoutSessionMode::Payment)
            .client_reference_id(order_id.clone())
            .customer_email(request.email.clone())
            .line_items(line_items)
            .metadata(metadata)
            .success_url(request.success_url.clone())
            .cancel_url(request.cancel_url.clone())
            .expires_at(request.expires_at)
            .customize()
            // One session per order, also when the request is retried.
            .request_strategy(idempotency(&format!("tessera-checkout-{order_id}"))?)
            .send(&self.client)
            .await
            .map_err(provider_error)?;
        let url = session
            .url
            .ok_or_else(|| ProviderError::Unavailable("the session has no url".into()))?;
        Ok(Checkout {
            session_id: session.id.to_string(),
            url,
        })
    }

    async fn refund(&self, request: &RefundRequest) -> Result<String, ProviderError> {
        let refund = CreateRefund::new()
            .payment_intent(request.payment_intent.clone())
            .amount(request.amount_cents)
            .customize()
            .request_strategy(idempotency(&request.idempotency_key)?)
            .send(&self.client)
            .await
            .map_err(provider_error)?;
        Ok(refund.id.to_string())
    }
}
