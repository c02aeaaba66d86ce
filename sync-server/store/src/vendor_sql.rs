//! The vendor tables (migration 0006): vendor profiles keyed by email, the metadata of each
//! booth purchase, the organizer's booths with their location codes and assignments, and the
//! staff passes granted per booth. Like [`super::sql`], one SQL body serves both backends.
//!
//! Owns the all-or-nothing booth order (capacity, order, profile, purchase, ticket, email in
//! one transaction) and pushing assignment changes into the change feed by touching the
//! affected tickets (the feed's triggers do the rest). Knows nothing about validation,
//! signing or HTTP: that is `crate::vendors`.

use async_trait::async_trait;
use sqlx::Row;

use super::SqlStore;
use super::backend::{Affected, Backend};
use super::{NewOrder, StoreError, TicketView, is_unique_violation};

/// The booth categories of the original system; each matches one ticket type.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum BoothCategory {
    /// Bazaar Vendor Booth.
    Bazaar,
    /// Food Truck Booth.
    FoodTruck,
    /// Food Booth.
    FoodBooth,
}

impl BoothCategory {
    /// Every category.
    pub const ALL: [Self; 3] = [Self::Bazaar, Self::FoodTruck, Self::FoodBooth];

    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bazaar => "bazaar",
            Self::FoodTruck => "food_truck",
            Self::FoodBooth => "food_booth",
        }
    }

    /// Words for people.
    pub fn label(self) -> &'static str {
        match self {
            Self::Bazaar => "Bazaar vendor booth",
            Self::FoodTruck => "Food truck booth",
            Self::FoodBooth => "Food booth",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// What a booth buyer told us, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVendorPurchase {
    /// The email as accounts compare it (`auth::normalize_email`): the vendor profile's key.
    pub email: String,
    /// "Falafel King".
    pub business_name: String,
    /// The name the vendor gives the booth ("Falafel King's truck").
    pub booth_name: String,
    /// Its category.
    pub category: BoothCategory,
    /// Contact person.
    pub contact_name: String,
    /// Contact phone.
    pub phone: String,
    /// What they sell.
    pub description: String,
    /// The event.
    pub event_id: i64,
    /// The booth ticket type bought.
    pub ticket_type_id: i64,
    /// Unix seconds.
    pub now: i64,
}

/// A vendor profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorProfile {
    /// Id.
    pub id: i64,
    /// Email (`auth::normalize_email`).
    pub email: String,
    /// Business name (latest purchase).
    pub business_name: String,
    /// Contact person.
    pub contact_name: String,
    /// Phone.
    pub phone: String,
    /// What they sell.
    pub description: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// A booth purchase with its order's state and its booth, if assigned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorPurchase {
    /// The order.
    pub order_id: i64,
    /// `pending`, `paid`, `expired`, `refunded`.
    pub order_status: String,
    /// The vendor.
    pub vendor_id: i64,
    /// Vendor email.
    pub email: String,
    /// Contact person.
    pub contact_name: String,
    /// Phone.
    pub phone: String,
    /// The event.
    pub event_id: i64,
    /// The ticket type bought.
    pub ticket_type_id: i64,
    /// Its category.
    pub category: BoothCategory,
    /// Business name as given with this purchase.
    pub business_name: String,
    /// Booth name as given.
    pub booth_name: String,
    /// What they sell.
    pub description: String,
    /// The assigned booth: id and location code.
    pub booth: Option<(i64, String)>,
    /// Staff passes granted for that booth (valid ones).
    pub staff_passes: i64,
    /// Unix seconds.
    pub created_at: i64,
}

/// A physical booth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booth {
    /// Id (1 to 65535: staff passes carry it in their signed claims).
    pub id: i64,
    /// The event.
    pub event_id: i64,
    /// Location code, "B-12".
    pub code: String,
    /// Which kind of booth it is, if the organizer said.
    pub category: Option<BoothCategory>,
    /// The purchase (order id) it is assigned to.
    pub order_id: Option<i64>,
    /// That purchase's business.
    pub business_name: Option<String>,
    /// Unix seconds.
    pub assigned_at: Option<i64>,
}

/// The vendor part of the store.
#[async_trait]
pub trait VendorStore: Send + Sync {
    /// A paid booth order in one transaction: capacity, the order, the vendor profile
    /// (created for a new email), the purchase metadata, the booth ticket and the
    /// confirmation email. Returns the vendor profile id.
    async fn place_vendor_order(
        &self,
        order: &NewOrder,
        purchase: &NewVendorPurchase,
    ) -> Result<i64, StoreError>;
    /// The profile and purchase of an order that already exists (a pending Stripe order:
    /// its email is queued only when it is paid, so the metadata is there by then).
    async fn record_vendor_purchase(
        &self,
        order_id: i64,
        purchase: &NewVendorPurchase,
    ) -> Result<i64, StoreError>;
    /// A vendor profile by email (any case).
    async fn vendor_by_email(&self, email: &str) -> Result<Option<VendorProfile>, StoreError>;
    /// Every vendor profile, by id.
    async fn vendor_profiles(&self) -> Result<Vec<VendorProfile>, StoreError>;
    /// Booth purchases, newest first; only those of `email` when given.
    async fn vendor_purchases(
        &self,
        email: Option<&str>,
    ) -> Result<Vec<VendorPurchase>, StoreError>;
    /// The purchase an order is, if it is one.
    async fn vendor_purchase(&self, order_id: i64) -> Result<Option<VendorPurchase>, StoreError>;
    /// Creates a booth; `Conflict` if its code is taken in the event, `NotFound` if the
    /// event does not exist.
    async fn create_booth(
        &self,
        event_id: i64,
        code: &str,
        category: Option<BoothCategory>,
        now: i64,
    ) -> Result<Booth, StoreError>;
    /// Every booth, by event and code.
    async fn booths(&self) -> Result<Vec<Booth>, StoreError>;
    /// Assigns a booth to a paid purchase (`order_id`), or frees it (`None`). `Conflict`
    /// when the booth or the purchase is taken, `NotFound` when either does not exist.
    /// The purchase's booth ticket and the booth's staff passes are touched, so devices
    /// get their new gate detail; when the booth leaves a purchase, that vendor's staff
    /// passes are voided.
    async fn assign_booth(
        &self,
        booth_id: i64,
        order_id: Option<i64>,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Inserts a comp order of staff passes for a booth: no capacity taken (a booth's
    /// staff are not booths), the tickets, their `vendor_staff_passes` rows and the email
    /// to the vendor, in one transaction.
    async fn insert_staff_passes(&self, booth_id: i64, order: &NewOrder) -> Result<(), StoreError>;
    /// A booth's staff passes, by id.
    async fn staff_passes(&self, booth_id: i64) -> Result<Vec<TicketView>, StoreError>;
}

/// `SELECT` of a [`VendorPurchase`].
pub(crate) const PURCHASE_SELECT: &str = "SELECT p.order_id, o.status AS order_status, p.vendor_id, v.email, \
         COALESCE(p.contact_name, v.contact_name) AS contact_name, \
         COALESCE(p.phone, v.phone) AS phone, p.event_id, p.ticket_type_id, p.category, p.business_name, p.booth_name, \
         p.description, p.created_at, b.id AS booth_id, b.code AS booth_code, \
         (SELECT COUNT(*) FROM vendor_staff_passes s JOIN tickets t ON t.id = s.ticket_id \
          WHERE s.booth_id = b.id AND t.status = 'valid') AS staff \
         FROM vendor_purchases p JOIN orders o ON o.id = p.order_id \
         JOIN vendor_profiles v ON v.id = p.vendor_id \
         LEFT JOIN booths b ON b.order_id = p.order_id";

/// `SELECT` of a [`Booth`].
pub(crate) const BOOTH_SELECT: &str = "SELECT b.id, b.event_id, b.code, b.category, b.order_id, b.assigned_at, \
         p.business_name FROM booths b LEFT JOIN vendor_purchases p ON p.order_id = b.order_id";

fn profile_from<R: Row>(row: &R) -> Result<VendorProfile, StoreError>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(VendorProfile {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        business_name: row.try_get("business_name")?,
        contact_name: row.try_get("contact_name")?,
        phone: row.try_get("phone")?,
        description: row.try_get("description")?,
        created_at: row.try_get("created_at")?,
    })
}

fn category(s: &str) -> Result<BoothCategory, StoreError> {
    BoothCategory::parse(s).ok_or_else(|| StoreError::Corrupt(format!("booth category {s:?}")))
}

fn purchase_from<R: Row>(row: &R) -> Result<VendorPurchase, StoreError>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<i64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let booth_id: Option<i64> = row.try_get("booth_id")?;
    let booth_code: Option<String> = row.try_get("booth_code")?;
    Ok(VendorPurchase {
        order_id: row.try_get("order_id")?,
        order_status: row.try_get("order_status")?,
        vendor_id: row.try_get("vendor_id")?,
        email: row.try_get("email")?,
        contact_name: row.try_get("contact_name")?,
        phone: row.try_get("phone")?,
        event_id: row.try_get("event_id")?,
        ticket_type_id: row.try_get("ticket_type_id")?,
        category: category(&row.try_get::<String, _>("category")?)?,
        business_name: row.try_get("business_name")?,
        booth_name: row.try_get("booth_name")?,
        description: row.try_get("description")?,
        booth: booth_id.zip(booth_code),
        staff_passes: row.try_get("staff")?,
        created_at: row.try_get("created_at")?,
    })
}

fn booth_from<R: Row>(row: &R) -> Result<Booth, StoreError>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<i64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(Booth {
        id: row.try_get("id")?,
        event_id: row.try_get("event_id")?,
        code: row.try_get("code")?,
        category: row
            .try_get::<Option<String>, _>("category")?
            .map(|c| category(&c))
            .transpose()?,
        order_id: row.try_get("order_id")?,
        business_name: row.try_get("business_name")?,
        assigned_at: row.try_get("assigned_at")?,
    })
}

#[async_trait]
impl<DB> VendorStore for SqlStore<DB>
where
    DB: Backend,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'c> &'c sqlx::Pool<DB>: sqlx::Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
    DB::QueryResult: Affected,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> bool: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Vec<u8>: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q [u8]: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::ColumnIndex<DB::Row>,
    usize: sqlx::ColumnIndex<DB::Row>,
    for<'q> Option<i64>: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<String>: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    async fn place_vendor_order(
        &self,
        order: &NewOrder,
        purchase: &NewVendorPurchase,
    ) -> Result<i64, StoreError> {
        let mut items = order.items.clone();
        items.sort_by_key(|i| i.ticket_type_id);
        let _w = self.write_guard().await;
        let mut tx = self.begin_write().await?;
        Self::take_capacity(&mut *tx, &items).await?;
        // The same order rows `place_order` writes; the purchase rows join them in
        // this transaction so the confirmation email can never be composed without
        // the vendor's metadata.
        Self::insert_paid_order(&mut *tx, order).await?;
        let vendor_id = Self::insert_purchase(&mut *tx, order.id, purchase).await?;
        Self::insert_issued(
            &mut *tx,
            order.id,
            &order.tickets,
            &order.email,
            order.email_due_ms,
            order.created_at,
        )
        .await?;
        tx.commit().await?;
        Ok(vendor_id)
    }

    async fn record_vendor_purchase(
        &self,
        order_id: i64,
        purchase: &NewVendorPurchase,
    ) -> Result<i64, StoreError> {
        let _w = self.write_guard().await;
        let mut tx = self.begin_write().await?;
        let vendor_id = Self::insert_purchase(&mut *tx, order_id, purchase).await?;
        tx.commit().await?;
        Ok(vendor_id)
    }

    async fn vendor_by_email(&self, email: &str) -> Result<Option<VendorProfile>, StoreError> {
        sqlx::query(
            "SELECT id, email, business_name, contact_name, phone, description, created_at \
             FROM vendor_profiles WHERE email = $1",
        )
        .bind(crate::normalize_email(email))
        .fetch_optional(&self.pool)
        .await?
        .map(|r| profile_from(&r))
        .transpose()
    }

    async fn vendor_profiles(&self) -> Result<Vec<VendorProfile>, StoreError> {
        sqlx::query(
            "SELECT id, email, business_name, contact_name, phone, description, created_at \
             FROM vendor_profiles ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(profile_from)
        .collect()
    }

    async fn vendor_purchases(
        &self,
        email: Option<&str>,
    ) -> Result<Vec<VendorPurchase>, StoreError> {
        let rows = match email {
            Some(email) => {
                sqlx::query(crate::sql(&[
                    PURCHASE_SELECT,
                    " WHERE v.email = $1 ORDER BY p.created_at DESC, p.order_id",
                ]))
                .bind(crate::normalize_email(email))
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(crate::sql(&[
                    PURCHASE_SELECT,
                    " ORDER BY p.created_at DESC, p.order_id",
                ]))
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(purchase_from).collect()
    }

    async fn vendor_purchase(&self, order_id: i64) -> Result<Option<VendorPurchase>, StoreError> {
        sqlx::query(crate::sql(&[PURCHASE_SELECT, " WHERE p.order_id = $1"]))
            .bind(order_id)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| purchase_from(&r))
            .transpose()
    }

    async fn create_booth(
        &self,
        event_id: i64,
        code: &str,
        category: Option<BoothCategory>,
        now: i64,
    ) -> Result<Booth, StoreError> {
        let _w = self.write_guard().await;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO booths (event_id, code, category, created_at) \
             VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(event_id)
        .bind(code)
        .bind(category.map(BoothCategory::as_str))
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!("booth {code:?}"))
            } else if matches!(&e, sqlx::Error::Database(db) if db.is_foreign_key_violation()) {
                StoreError::NotFound(format!("event {event_id}"))
            } else if matches!(&e, sqlx::Error::Database(db) if db.is_check_violation()) {
                StoreError::Changed("every booth id (1 to 65535) is in use".into())
            } else {
                e.into()
            }
        })?;
        Ok(Booth {
            id,
            event_id,
            code: code.to_owned(),
            category,
            order_id: None,
            business_name: None,
            assigned_at: None,
        })
    }

    async fn booths(&self) -> Result<Vec<Booth>, StoreError> {
        sqlx::query(crate::sql(&[BOOTH_SELECT, " ORDER BY b.event_id, b.code"]))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(booth_from)
            .collect()
    }

    async fn assign_booth(
        &self,
        booth_id: i64,
        order_id: Option<i64>,
        now: i64,
    ) -> Result<(), StoreError> {
        let _w = self.write_guard().await;
        let mut tx = self.begin_write().await?;
        let booth = sqlx::query("SELECT order_id, event_id FROM booths WHERE id = $1")
            .bind(booth_id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(booth) = booth else {
            return Err(StoreError::NotFound(format!("booth {booth_id}")));
        };
        let previous: Option<i64> = booth.try_get("order_id")?;
        let booth_event: i64 = booth.try_get("event_id")?;
        if let Some(order_id) = order_id {
            let purchase = sqlx::query(
                "SELECT o.status, p.event_id FROM vendor_purchases p \
                 JOIN orders o ON o.id = p.order_id WHERE p.order_id = $1",
            )
            .bind(order_id)
            .fetch_optional(&mut *tx)
            .await?;
            let status: Option<String> =
                purchase.as_ref().map(|r| r.try_get("status")).transpose()?;
            let purchase_event: Option<i64> = purchase
                .as_ref()
                .map(|r| r.try_get("event_id"))
                .transpose()?;
            if purchase_event.is_some_and(|e| e != booth_event) {
                return Err(StoreError::NotFound(format!(
                    "booth purchase (order {order_id}) in the booth's event"
                )));
            }
            match status.as_deref() {
                None => {
                    return Err(StoreError::NotFound(format!(
                        "booth purchase (order {order_id})"
                    )));
                }
                Some("paid") => {}
                Some(other) => {
                    return Err(StoreError::Conflict(format!(
                        "an assignment for order {order_id}, which is {other} and not paid,"
                    )));
                }
            }
            if previous.is_some_and(|p| p != order_id) {
                return Err(StoreError::Conflict(format!(
                    "an assignment for booth {booth_id}"
                )));
            }
        }
        sqlx::query("UPDATE booths SET order_id = $1, assigned_at = $2 WHERE id = $3")
            .bind(order_id)
            .bind(order_id.map(|_| now))
            .bind(booth_id)
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Conflict(format!(
                        "a booth for order {}",
                        order_id.unwrap_or_default()
                    ))
                } else {
                    e.into()
                }
            })?;
        // A booth that leaves its vendor takes its staff passes with it: the previous
        // vendor's staff must not walk in under the next vendor's business name.
        if previous.is_some() && previous != order_id {
            sqlx::query(
                "UPDATE tickets SET status = 'void' WHERE status = 'valid' \
                 AND id IN (SELECT ticket_id FROM vendor_staff_passes WHERE booth_id = $1)",
            )
            .bind(booth_id)
            .execute(&mut *tx)
            .await?;
        }
        // A no-op update of the affected tickets: the feed triggers append a change
        // for each, and devices read the new detail with it.
        sqlx::query(
            "UPDATE tickets SET revision = revision WHERE order_id = $1 OR order_id = $2 \
             OR id IN (SELECT ticket_id FROM vendor_staff_passes WHERE booth_id = $3)",
        )
        .bind(order_id.unwrap_or(0))
        .bind(previous.unwrap_or(0))
        .bind(booth_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn insert_staff_passes(&self, booth_id: i64, order: &NewOrder) -> Result<(), StoreError> {
        let _w = self.write_guard().await;
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO orders (id, email, name, status, payment, total_cents, currency, \
             token_hash, created_at, paid_at, lang) \
             VALUES ($1, $2, $3, 'paid', $4, $5, $6, $7, $8, $8, $9)",
        )
        .bind(order.id)
        .bind(&order.email)
        .bind(&order.name)
        .bind(order.payment.as_str())
        .bind(order.total_cents)
        .bind(&order.currency)
        .bind(&order.token_hash)
        .bind(order.created_at)
        .bind(&order.lang)
        .execute(&mut *tx)
        .await?;
        for item in &order.items {
            sqlx::query(
                "INSERT INTO order_items (order_id, ticket_type_id, quantity, \
                 unit_price_cents) VALUES ($1, $2, $3, $4)",
            )
            .bind(order.id)
            .bind(item.ticket_type_id)
            .bind(item.quantity)
            .bind(item.unit_price_cents)
            .execute(&mut *tx)
            .await?;
        }
        // The feed reads a ticket's gate detail when it serves the change, after
        // commit, so the pass rows below are there by then.
        Self::insert_issued(
            &mut *tx,
            order.id,
            &order.tickets,
            &order.email,
            order.email_due_ms,
            order.created_at,
        )
        .await?;
        for t in &order.tickets {
            sqlx::query(
                "INSERT INTO vendor_staff_passes (ticket_id, booth_id, created_at) \
                 VALUES ($1, $2, $3)",
            )
            .bind(t.id)
            .bind(booth_id)
            .bind(order.created_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                if matches!(&e, sqlx::Error::Database(db) if db.is_foreign_key_violation()) {
                    StoreError::NotFound(format!("booth {booth_id}"))
                } else {
                    e.into()
                }
            })?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn staff_passes(&self, booth_id: i64) -> Result<Vec<TicketView>, StoreError> {
        sqlx::query(crate::sql(&[
            super::sql::TICKET_VIEW_SELECT.as_str(),
            " WHERE t.id IN (SELECT ticket_id FROM vendor_staff_passes WHERE booth_id = $1) \
             ORDER BY t.issued_at, t.holder_name, t.id",
        ]))
        .bind(booth_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(super::sql::ticket_view_from)
        .collect()
    }
}
