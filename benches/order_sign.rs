//! Build + sign one order request, per venue: the order stage's cost of turning a decision
//! into the bytes for the socket (HMAC-SHA256 with ring over the body in its pre-sized
//! buffer, head written before it). Target: ≤ 1 µs per order.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use obi_scalp::exec::orders::ClientIds;
use obi_scalp::instrument::Market;
use obi_scalp::msg::{OrderSide, Tif};
use obi_scalp::num::Scale;
use obi_scalp::venue::bybit::private::BybitRequests;
use obi_scalp::venue::coincheck::private::CoincheckRequests;
use obi_scalp::venue::gmocoin::private::GmoRequests;

fn build_and_sign(c: &mut Criterion) {
    let ids = ClientIds::new("obi", 1_790_000_000_000);
    let mut bybit = BybitRequests::new(
        "api.bybit.com",
        "obiBENCHkey0001",
        b"bench-secret-0123456789abcdef0123456789",
        5000,
        Market::Linear,
        "BTCUSDT",
        Scale::from_step("0.1").unwrap(),
        Scale::from_step("0.001").unwrap(),
    )
    .unwrap();
    let mut id = 0u64;
    c.bench_function("bybit_create_build_sign", |b| {
        b.iter(|| {
            id += 1;
            let link = ids.of(id);
            let r = bybit
                .create(
                    1_790_000_000_000 + id,
                    &link,
                    OrderSide::Buy,
                    black_box(650_001),
                    black_box(12),
                    Tif::PostOnly,
                    false,
                )
                .unwrap();
            black_box(r.bytes().len())
        })
    });
    c.bench_function("bybit_cancel_build_sign", |b| {
        b.iter(|| {
            id += 1;
            let link = ids.of(id);
            black_box(
                bybit
                    .cancel(1_790_000_000_000 + id, &link)
                    .unwrap()
                    .bytes()
                    .len(),
            )
        })
    });
    let mut cc = CoincheckRequests::new(
        "https://coincheck.com",
        "obiBENCHkey0001",
        b"bench-secret-0123456789abcdef0123456789",
        "btc_jpy",
        Scale::from_step("1").unwrap(),
        Scale::from_step("0.00000001").unwrap(),
    )
    .unwrap();
    let mut now = 1_790_000_000_000u64;
    c.bench_function("coincheck_create_build_sign", |b| {
        b.iter(|| {
            now += 1;
            let r = cc
                .create(
                    now,
                    OrderSide::Sell,
                    black_box(14_500_000),
                    black_box(1_000_000),
                    Tif::PostOnly,
                )
                .unwrap();
            black_box(r.bytes().len())
        })
    });
    let mut gmo = GmoRequests::new(
        "https://api.coin.z.com",
        "obiBENCHkey0001",
        b"bench-secret-0123456789abcdef0123456789",
        "BTC_JPY",
        Scale::from_step("1").unwrap(),
        Scale::from_step("0.01").unwrap(),
    )
    .unwrap();
    c.bench_function("gmocoin_order_build_sign", |b| {
        b.iter(|| {
            now += 1;
            let r = gmo
                .order(
                    now,
                    OrderSide::Buy,
                    black_box(14_500_000),
                    black_box(1),
                    Tif::PostOnly,
                )
                .unwrap();
            black_box(r.bytes().len())
        })
    });
    let mut venue_id = 1_000_000_000u64;
    c.bench_function("gmocoin_cancel_build_sign", |b| {
        b.iter(|| {
            now += 1;
            venue_id += 1;
            black_box(gmo.cancel(now, venue_id).unwrap().bytes().len())
        })
    });
}

criterion_group!(benches, build_and_sign);
criterion_main!(benches);
