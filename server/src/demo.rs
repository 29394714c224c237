//! Demo data: host Sun Jing's session "Xiaoxiaobao Mama live" with 16 products across
//! cosmetics, skincare, baby care and health products. Loading is idempotent; while the demo
//! session is still scheduled its start is kept "soon" so the demo always has a countdown.

use shop_backend::{
    identity::host_auth,
    now_ms,
    repo::catalog::{self, NewProduct, NewSession},
    Db,
};
use shop_core::{domain::money::Fen, error::AppError};

pub const DEMO_TITLE: &str = "Xiaoxiaobao Mama live";
pub const DEMO_HOST: &str = "Sun Jing";
/// The demo host's studio sign-in (printed at start when demo data is loaded).
pub const DEMO_HOST_EMAIL: &str = "sunjing@demo.live";
pub const DEMO_HOST_PASSWORD: &str = "xiaoxiaobao-demo";
/// The demo session starts this long after the server starts.
const STARTS_IN_MS: i64 = 30 * 60 * 1000;

/// (name, category, price in fen, stock, image file, description)
const PRODUCTS: [(&str, &str, i64, i64, &str, &str); 16] = [
    (
        "Hydrating Rose Toner 200ml",
        "Skincare",
        12_900,
        300,
        "rose-toner",
        "Damask rose water with hyaluronic acid; alcohol-free, for dry and sensitive skin.",
    ),
    (
        "Vitamin C Brightening Serum 30ml",
        "Skincare",
        25_900,
        200,
        "vitc-serum",
        "10% stabilised vitamin C with ferulic acid to even out tone.",
    ),
    (
        "Ceramide Barrier Repair Cream 50g",
        "Skincare",
        19_900,
        250,
        "ceramide-cream",
        "Three ceramides and squalane rebuild a stressed skin barrier.",
    ),
    (
        "Amino Acid Gentle Cleanser 120g",
        "Skincare",
        6_900,
        500,
        "amino-cleanser",
        "Low-foam, pH 5.5 cleanser safe for daily use, even for teens.",
    ),
    (
        "Velvet Matte Lipstick #316",
        "Cosmetics",
        15_900,
        400,
        "velvet-lipstick",
        "Brick-red matte finish that stays comfortable for eight hours.",
    ),
    (
        "Silk Cushion Foundation SPF50",
        "Cosmetics",
        22_900,
        180,
        "silk-cushion",
        "Light, buildable coverage with sun protection; refill included.",
    ),
    (
        "12-Colour Eyeshadow Palette",
        "Cosmetics",
        18_900,
        150,
        "eyeshadow-palette",
        "Warm nudes to deep plum, in matte, shimmer and glitter.",
    ),
    (
        "Waterproof Curling Mascara",
        "Cosmetics",
        8_900,
        350,
        "curl-mascara",
        "Lifts and holds the curl all day; removes with warm water.",
    ),
    (
        "Ultra-Thin Baby Diapers M, 62 pcs",
        "Baby care",
        9_900,
        500,
        "baby-diapers",
        "Breathable 2 mm core, wetness indicator, for 6-11 kg.",
    ),
    (
        "Baby Gentle Wash & Shampoo 2-in-1",
        "Baby care",
        5_900,
        400,
        "baby-wash",
        "Tear-free, fragrance-free, dermatologist tested from birth.",
    ),
    (
        "Organic Cotton Baby Wipes 80 x 6",
        "Baby care",
        4_990,
        600,
        "baby-wipes",
        "99% pure water on organic cotton, thick enough for one-wipe cleanups.",
    ),
    (
        "Infant Formula Stage 2, 800g",
        "Baby care",
        32_800,
        120,
        "infant-formula",
        "For 6-12 months, with OPO structured lipids and lactoferrin.",
    ),
    (
        "Omega-3 Fish Oil Softgels x120",
        "Health",
        16_800,
        220,
        "fish-oil",
        "Deep-sea fish oil, 1000 mg per softgel, molecularly distilled.",
    ),
    (
        "Kids' Probiotic Powder, 30 sachets",
        "Health",
        19_800,
        160,
        "kids-probiotic",
        "Ten billion CFU per sachet with prebiotic fibre; no added sugar.",
    ),
    (
        "Calcium + Vitamin D3 Chewables x90",
        "Health",
        12_800,
        260,
        "calcium-d3",
        "Milk-flavoured chewable tablets for children and adults.",
    ),
    (
        "Collagen Peptide Drink, 10 bottles",
        "Health",
        29_900,
        140,
        "collagen-drink",
        "5000 mg marine collagen peptides with vitamin C per bottle.",
    ),
];

/// Loads the demo host, session and products unless already present.
pub async fn ensure_demo_data(db: &Db) -> Result<(), AppError> {
    let start = now_ms() + STARTS_IN_MS;
    if let Some(id) = catalog::find_session_by_title(db, DEMO_TITLE).await? {
        catalog::keep_scheduled_start_ahead(db, id, start).await?;
        tracing::info!(session_id = %id, "demo data already present");
        return Ok(());
    }
    let host_id = catalog::create_host(db, DEMO_HOST).await?;
    host_auth::create_account(db, host_id, DEMO_HOST_EMAIL, DEMO_HOST_PASSWORD).await?;
    let session = NewSession {
        host_id,
        title: DEMO_TITLE.to_string(),
        description: "Sun Jing brings 16 family favourites, from skincare to baby care and health. Reserve a seat, invite a friend, and you both get 50% off what she presents live.".to_string(),
        cover_url: "/public/covers/xiaoxiaobao-mama.svg".to_string(),
        scheduled_start_ms: start,
        time_zone: shop_core::model::DEFAULT_TIME_ZONE.to_string(),
    };
    let products: Vec<NewProduct> = PRODUCTS
        .iter()
        .map(
            |(name, category, price, stock, image, description)| NewProduct {
                name: (*name).to_string(),
                description: (*description).to_string(),
                category: (*category).to_string(),
                price: Fen(*price),
                stock: *stock,
                image_url: format!("/public/products/{image}.svg"),
            },
        )
        .collect();
    let id = catalog::create_session(db, &session, &products).await?;
    tracing::info!(session_id = %id, "demo data loaded");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_catalog_spans_the_four_categories_with_positive_prices() {
        let mut cats: Vec<&str> = PRODUCTS.iter().map(|p| p.1).collect();
        cats.sort_unstable();
        cats.dedup();
        assert_eq!(cats, ["Baby care", "Cosmetics", "Health", "Skincare"]);
        assert!(PRODUCTS.iter().all(|p| p.2 > 0 && p.3 > 0));
    }

    #[test]
    fn every_demo_image_is_shipped() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../public");
        for p in PRODUCTS {
            let f = root.join(format!("products/{}.svg", p.4));
            assert!(f.is_file(), "missing {}", f.display());
        }
        assert!(root.join("covers/xiaoxiaobao-mama.svg").is_file());
    }
}
