//! Writes the synthetic sample record as `record.pdf` and `record.smart-health-card`
//! into the directory given (default: current): for looking at the layout.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| ".".into());
    let doses = std::env::args()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or(25);
    let key = immunis_documents::IssuerKey::generate(&mut rand_core::OsRng);
    let doc = immunis_documents::sample::child_record(doses);
    let card = immunis_documents::health_card(&doc, &key, "https://registry.example.org", 0)?;
    std::fs::write(
        format!("{dir}/record.pdf"),
        immunis_documents::official_record_pdf(&doc, &card),
    )?;
    std::fs::write(
        format!("{dir}/record.smart-health-card"),
        immunis_documents::health_card_file(&card.jws),
    )?;
    println!(
        "QR version {}, JWS {} chars",
        card.qr_version(),
        card.jws.len()
    );
    Ok(())
}
