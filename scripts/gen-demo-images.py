#!/usr/bin/env python3
"""Generates the demo product, cover and icon SVGs in public/ (run once; outputs are committed)."""
import os

ROOT = os.path.join(os.path.dirname(__file__), "..", "public")
PALETTE = {
    "Skincare": ("#ffe3ea", "#f7a8bd", "#c2185b"),
    "Cosmetics": ("#f3e5f5", "#ce93d8", "#7b1fa2"),
    "Baby care": ("#e3f2fd", "#90caf9", "#1565c0"),
    "Health": ("#e8f5e9", "#a5d6a7", "#2e7d32"),
}
PRODUCTS = [
    ("rose-toner", "Skincare", "bottle", "Rose Toner"),
    ("vitc-serum", "Skincare", "dropper", "Vitamin C Serum"),
    ("ceramide-cream", "Skincare", "jar", "Ceramide Cream"),
    ("amino-cleanser", "Skincare", "tube", "Amino Cleanser"),
    ("velvet-lipstick", "Cosmetics", "lipstick", "Lipstick #316"),
    ("silk-cushion", "Cosmetics", "compact", "Silk Cushion"),
    ("eyeshadow-palette", "Cosmetics", "palette", "Eyeshadow 12"),
    ("curl-mascara", "Cosmetics", "mascara", "Curl Mascara"),
    ("baby-diapers", "Baby care", "pack", "Diapers M"),
    ("baby-wash", "Baby care", "pump", "Baby Wash"),
    ("baby-wipes", "Baby care", "wipes", "Cotton Wipes"),
    ("infant-formula", "Baby care", "can", "Formula Stage 2"),
    ("fish-oil", "Health", "pills", "Omega-3"),
    ("kids-probiotic", "Health", "sachets", "Probiotic"),
    ("calcium-d3", "Health", "pills", "Calcium + D3"),
    ("collagen-drink", "Health", "vials", "Collagen"),
]

def shape(kind, mid, dark):
    s = {
        "bottle": f'<rect x="160" y="90" width="80" height="40" rx="8" fill="{dark}"/><rect x="130" y="125" width="140" height="180" rx="30" fill="#fff" stroke="{dark}" stroke-width="6"/><rect x="150" y="190" width="100" height="60" rx="8" fill="{mid}"/>',
        "dropper": f'<ellipse cx="200" cy="92" rx="22" ry="26" fill="{dark}"/><rect x="180" y="110" width="40" height="40" fill="{dark}"/><rect x="145" y="148" width="110" height="160" rx="22" fill="#ffd54f" stroke="{dark}" stroke-width="6"/><rect x="162" y="200" width="76" height="50" rx="6" fill="#fff"/>',
        "jar": f'<rect x="115" y="140" width="170" height="40" rx="10" fill="{dark}"/><rect x="105" y="175" width="190" height="120" rx="26" fill="#fff" stroke="{dark}" stroke-width="6"/><rect x="140" y="210" width="120" height="50" rx="8" fill="{mid}"/>',
        "tube": f'<path d="M140 90 h120 l-20 190 h-80 z" fill="#fff" stroke="{dark}" stroke-width="6"/><rect x="170" y="280" width="60" height="36" rx="6" fill="{dark}"/><rect x="160" y="150" width="80" height="60" rx="6" fill="{mid}"/>',
        "lipstick": f'<path d="M175 90 l50 -20 v90 h-50 z" fill="#c62828"/><rect x="165" y="160" width="70" height="40" fill="#ffca28"/><rect x="155" y="200" width="90" height="110" rx="10" fill="{dark}"/>',
        "compact": f'<circle cx="200" cy="210" r="100" fill="{dark}"/><circle cx="200" cy="210" r="80" fill="#f5d0b5"/><circle cx="200" cy="210" r="30" fill="#fff" opacity=".6"/>',
        "palette": f'<rect x="90" y="120" width="220" height="170" rx="16" fill="{dark}"/>' + "".join(
            f'<rect x="{105 + (i % 4) * 50}" y="{135 + (i // 4) * 50}" width="40" height="40" rx="8" fill="{c}"/>'
            for i, c in enumerate(["#f8bbd0", "#d7a98c", "#a1887f", "#6d4c41", "#ffcc80", "#ce93d8", "#8e24aa", "#4a148c", "#f48fb1", "#bcaaa4", "#795548", "#3e2723"])),
        "mascara": f'<rect x="185" y="70" width="30" height="120" rx="10" fill="#212121"/><rect x="178" y="185" width="44" height="140" rx="12" fill="{dark}"/>',
        "pack": f'<rect x="110" y="100" width="180" height="210" rx="18" fill="#fff" stroke="{dark}" stroke-width="6"/><circle cx="200" cy="190" r="45" fill="{mid}"/><rect x="140" y="255" width="120" height="24" rx="12" fill="{dark}"/>',
        "pump": f'<rect x="190" y="70" width="20" height="40" fill="{dark}"/><rect x="160" y="64" width="60" height="14" rx="6" fill="{dark}"/><rect x="165" y="108" width="70" height="30" rx="6" fill="{dark}"/><rect x="135" y="135" width="130" height="175" rx="28" fill="#fff" stroke="{dark}" stroke-width="6"/><circle cx="200" cy="215" r="32" fill="{mid}"/>',
        "wipes": f'<rect x="95" y="140" width="210" height="150" rx="30" fill="#fff" stroke="{dark}" stroke-width="6"/><rect x="160" y="160" width="80" height="30" rx="14" fill="{mid}"/><path d="M150 250 q50 -30 100 0" stroke="{dark}" stroke-width="6" fill="none"/>',
        "can": f'<ellipse cx="200" cy="110" rx="80" ry="22" fill="{dark}"/><rect x="120" y="110" width="160" height="190" fill="#fff" stroke="{dark}" stroke-width="6"/><ellipse cx="200" cy="300" rx="80" ry="22" fill="#fff" stroke="{dark}" stroke-width="6"/><rect x="140" y="170" width="120" height="70" rx="10" fill="{mid}"/>',
        "pills": f'<rect x="150" y="90" width="100" height="36" rx="8" fill="{dark}"/><rect x="130" y="122" width="140" height="185" rx="24" fill="#fff" stroke="{dark}" stroke-width="6"/><ellipse cx="180" cy="215" rx="22" ry="12" fill="#ffb300" transform="rotate(-30 180 215)"/><ellipse cx="222" cy="240" rx="22" ry="12" fill="#ffb300" transform="rotate(25 222 240)"/>',
        "sachets": "".join(f'<rect x="{110 + i * 45}" y="{110 + (i % 2) * 20}" width="60" height="170" rx="8" fill="#fff" stroke="{dark}" stroke-width="5"/><rect x="{118 + i * 45}" y="{170 + (i % 2) * 20}" width="44" height="40" rx="4" fill="{mid}"/>' for i in range(4)),
        "vials": "".join(f'<rect x="{115 + i * 60}" y="120" width="46" height="24" rx="4" fill="{dark}"/><rect x="{112 + i * 60}" y="140" width="52" height="160" rx="14" fill="#fff3e0" stroke="{dark}" stroke-width="5"/>' for i in range(3)),
    }
    return s[kind]

def product_svg(cat, kind, label):
    light, mid, dark = PALETTE[cat]
    return f'''<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 400 400" width="400" height="400" role="img" aria-label="{label}">
<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="{light}"/><stop offset="1" stop-color="{mid}"/></linearGradient></defs>
<rect width="400" height="400" fill="url(#g)"/>
{shape(kind, mid, dark)}
<text x="200" y="360" text-anchor="middle" font-family="sans-serif" font-size="26" font-weight="700" fill="{dark}">{label}</text>
</svg>
'''

def main():
    for slug, cat, kind, label in PRODUCTS:
        with open(os.path.join(ROOT, "products", f"{slug}.svg"), "w") as f:
            f.write(product_svg(cat, kind, label))
    with open(os.path.join(ROOT, "covers", "xiaoxiaobao-mama.svg"), "w") as f:
        f.write('''<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 800 450" width="800" height="450" role="img" aria-label="Xiaoxiaobao Mama live">
<defs><linearGradient id="c" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#ff6f91"/><stop offset=".55" stop-color="#ff9671"/><stop offset="1" stop-color="#ffc75f"/></linearGradient></defs>
<rect width="800" height="450" fill="url(#c)"/>
<circle cx="640" cy="120" r="150" fill="#fff" opacity=".15"/><circle cx="120" cy="400" r="180" fill="#fff" opacity=".12"/>
<circle cx="600" cy="250" r="110" fill="#fff" opacity=".9"/><circle cx="600" cy="225" r="42" fill="#ffb199"/><path d="M530 320 q70 -80 140 0" fill="#ff6f91"/>
<rect x="60" y="60" width="210" height="44" rx="22" fill="#fff" opacity=".9"/><text x="165" y="90" text-anchor="middle" font-family="sans-serif" font-size="22" font-weight="800" fill="#e53935">LIVE SHOPPING</text>
<text x="60" y="200" font-family="sans-serif" font-size="54" font-weight="800" fill="#fff">Xiaoxiaobao</text>
<text x="60" y="262" font-family="sans-serif" font-size="54" font-weight="800" fill="#fff">Mama live</text>
<text x="60" y="320" font-family="sans-serif" font-size="26" fill="#fff">with Sun Jing · 16 favourites</text>
<text x="60" y="370" font-family="sans-serif" font-size="28" font-weight="700" fill="#fff">Invite a friend: both get 50% off</text>
</svg>
''')
    with open(os.path.join(ROOT, "covers", "default.svg"), "w") as f:
        f.write('''<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 800 450" width="800" height="450" role="img" aria-label="Live session">
<defs><linearGradient id="d" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#ff3d6e"/><stop offset="1" stop-color="#ff9671"/></linearGradient></defs>
<rect width="800" height="450" fill="url(#d)"/>
<circle cx="400" cy="225" r="80" fill="#fff" opacity=".9"/><path d="M375 185 l70 40 l-70 40 z" fill="#ff3d6e"/>
</svg>
''')
    with open(os.path.join(ROOT, "products", "default.svg"), "w") as f:
        f.write(product_svg("Cosmetics", "pack", "New product"))
    icon = '''<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 512 512" width="512" height="512">
<rect width="512" height="512" rx="112" fill="#ff3d6e"/>
<path d="M176 150 l200 106 l-200 106 z" fill="#fff"/>
<circle cx="390" cy="130" r="40" fill="#ffd54f"/>
</svg>
'''
    with open(os.path.join(ROOT, "icons", "icon.svg"), "w") as f:
        f.write(icon)

if __name__ == "__main__":
    main()
