"""The demo data set: deterministic, realistic, and complete enough to play every rule.

What it holds:

* ten brands with their 400 hotlines, warranty terms in Chinese and English,
  exclusions (NW-8) and service centres in several cities (NW-3);
* nine shops (merchants);
* providers whose coverage together reaches every city of the current
  one-click-help list (OH-2) for every one-click-help service on its categories
  (OH-1): a regional installer, delivery team and repairer in each of eight
  regions, a few city installers that specialise in lighting, and the brands' own
  service centres for their categories. Delivery into the home is deliberately
  left uncovered in :data:`DELIVERY_GAP_CITIES`, so dispatch there falls back to
  the merchant (OH-3);
* products across the one-click-help categories and services, and
  national-warranty products (phones, laptops, kettles, air conditioners...);
* orders of forty buyer accounts, addresses written as free text the way buyers
  type them, a few outside the covered cities, and a few national-warranty items
  bought long ago (out of warranty, NW-1).

Everything is built from a seeded :class:`random.Random` and :data:`DEMO_TODAY`,
never from the real clock, so one seed always gives the same rows. The ids
below (``ITEM_*``, ``PROVIDER_*``...) exist for every seed.

City names are spelt exactly as in ``policies/cities.toml``. The regions table
must list every city of the current ``oh-cities`` version; a test checks it.

The module is long (~880 lines) because most of it is data written as tables
(regions, brands, products, the well-known orders) next to the few builders
that expand them; it stays one file until the marketplace-connection work turns
these tables into data files loaded by the importer, when the builders go.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from aftersales.adapters.addresses import AddressResolver
from aftersales.adapters.db.reference import (
    CoverageRow,
    MerchantRow,
    OrderItemRow,
    OrderRow,
    ProviderRow,
    upsert_brands,
    upsert_merchants,
    upsert_order_items,
    upsert_orders,
    upsert_products,
    upsert_providers,
)
from aftersales.domain.brands import BrandAfterSales, ServiceCentre
from aftersales.domain.eligibility import Product
from aftersales.domain.explain import Bilingual
from aftersales.domain.policy import PolicyBook
from aftersales.errors import ConfigurationError

__all__ = [
    "DEMO_SEED",
    "DEMO_TODAY",
    "Dataset",
    "DatasetError",
    "LoadReport",
    "build_dataset",
    "load_dataset",
]

DEMO_SEED = 20_261_124
# The demo's "today": purchase and delivery dates are laid out before it, so
# warranty periods (NW-1) come out the same whenever the demo is built.
DEMO_TODAY = date(2026, 11, 24)
SHANGHAI = ZoneInfo("Asia/Shanghai")
BUYER_COUNT = 40

# ---------------------------------------------------------------- well-known ids

DEMO_BUYER = "buyer-001"

BRAND_GUANGMING = "brand-guangming"  # lighting
BRAND_SHIJI = "brand-shiji"  # tiles
BRAND_SENLIN = "brand-senlin"  # flooring
BRAND_QINGQUAN = "brand-qingquan"  # bathroom fittings
BRAND_YUNMIAN = "brand-yunmian"  # furniture
BRAND_MUFANG = "brand-mufang"  # wardrobes and storage
BRAND_XINGHE = "brand-xinghe"  # home and kitchen appliances
BRAND_HANFENG = "brand-hanfeng"  # air conditioners
BRAND_LINGXI = "brand-lingxi"  # phones and laptops
BRAND_MIANYU = "brand-mianyu"  # apparel (no after-sales programme)

MERCHANT_GUANGMING = "shop-guangming"
MERCHANT_HOME = "shop-jiaju"  # a multi-brand home-furnishing shop
MERCHANT_SHIJI = "shop-shiji"
MERCHANT_YUNMIAN = "shop-yunmian"
MERCHANT_MUFANG = "shop-mufang"
MERCHANT_XINGHE = "shop-xinghe"
MERCHANT_HANFENG = "shop-hanfeng"
MERCHANT_LINGXI = "shop-lingxi"
MERCHANT_MIANYU = "shop-mianyu"

PRODUCT_LAMP = "lamp-48w"
PRODUCT_TILES = "tile-800"
PRODUCT_SOFA = "sofa-leather-3"
PRODUCT_WARDROBE = "wardrobe-custom"
PRODUCT_AC = "ac-15"
PRODUCT_KETTLE = "kettle-k1"
PRODUCT_PHONE = "phone-x1"
PRODUCT_LAPTOP = "laptop-air14"
PRODUCT_TSHIRT = "tshirt-cotton"

# Order items a demo can act on (OH and NW), each with its buyer and city.
ITEM_LAMP_HANGZHOU = "item-lamp-hangzhou"  # lamp + scheduled installation, 杭州市
ITEM_LAMP_BEIJING = "item-lamp-beijing"  # a municipality's address
ITEM_TILES_GUANGZHOU = "item-tiles-guangzhou"  # tiles + delivery into the home, 广州市
ITEM_SOFA_CHENGDU = "item-sofa-chengdu"  # sofa + delivery with installation, 成都市
ITEM_WARDROBE_NANJING = "item-wardrobe-nanjing"  # wardrobe + three-year warranty, 南京市
ITEM_AC_WUHAN = "item-ac-wuhan"  # national warranty + installation, in warranty
ITEM_KETTLE_SHANGHAI = "item-kettle-shanghai"  # national-warranty kettle, in warranty
ITEM_PHONE_OUT_OF_WARRANTY = "item-phone-old"  # national warranty, bought long ago
ITEM_LAPTOP_OUT_OF_WARRANTY = "item-laptop-old"  # national warranty, bought long ago
ITEM_LAMP_NGARI = "item-lamp-ngari"  # 西藏 阿里地区: not a covered city (OH-2)
ITEM_TILES_KASHGAR = "item-tiles-kashgar"  # 新疆 喀什地区: not a covered city (OH-2)
ITEM_TILES_LHASA = "item-tiles-lhasa"  # covered city, no delivery provider: the merchant (OH-3)
ITEM_TSHIRT = "item-tshirt"  # in no programme at all

PROVIDER_HANGZHOU_LIGHTING = "hz-install-01"  # registered on 灯具灯饰 in 杭州市
PROVIDER_EAST_INSTALLER = "inst-east"  # registered on 家装建材 across 华东
PROVIDER_HANFENG_CENTRE = "svc-hanfeng"  # the AC brand's own installers, every city

# OH-3 fallback on purpose: nobody delivers building materials into the home here.
DELIVERY_GAP_CITIES: tuple[str, ...] = ("拉萨市", "西宁市")

# ---------------------------------------------------------------- places


@dataclass(frozen=True)
class _Region:
    id: str
    name: str
    hub_area_code: str
    cities: tuple[str, ...]


# Every city of the current oh-cities list, by region. Each region has one
# installer, one delivery team and one repairer covering all of its cities.
REGIONS: tuple[_Region, ...] = (
    _Region("east", "华东", "021", (
        "上海市", "杭州市", "宁波市", "温州市", "嘉兴市", "湖州市", "绍兴市", "金华市", "台州市",
        "南京市", "苏州市", "无锡市", "常州市", "南通市", "徐州市", "扬州市", "镇江市", "泰州市",
        "盐城市", "连云港市", "淮安市", "合肥市", "芜湖市", "蚌埠市", "马鞍山市", "安庆市",
    )),
    _Region("southeast", "东南", "0591", (
        "福州市", "厦门市", "泉州市", "漳州市", "莆田市", "南昌市", "赣州市", "九江市", "上饶市",
    )),
    _Region("south", "华南", "020", (
        "广州市", "深圳市", "佛山市", "东莞市", "珠海市", "中山市", "惠州市", "江门市", "汕头市",
        "湛江市", "南宁市", "柳州市", "桂林市", "海口市", "三亚市",
    )),
    _Region("north", "华北", "010", (
        "北京市", "天津市", "石家庄市", "唐山市", "保定市", "廊坊市", "邯郸市", "沧州市",
        "秦皇岛市", "太原市", "大同市", "呼和浩特市", "包头市", "济南市", "青岛市", "烟台市",
        "潍坊市", "临沂市", "淄博市", "济宁市", "威海市", "泰安市", "德州市", "聊城市",
    )),
    _Region("central", "华中", "027", (
        "郑州市", "洛阳市", "新乡市", "南阳市", "许昌市", "商丘市", "武汉市", "宜昌市", "襄阳市",
        "荆州市", "长沙市", "株洲市", "湘潭市", "衡阳市", "岳阳市", "常德市",
    )),
    _Region("southwest", "西南", "028", (
        "重庆市", "成都市", "绵阳市", "德阳市", "宜宾市", "南充市", "贵阳市", "遵义市", "昆明市",
        "曲靖市", "拉萨市",
    )),
    _Region("northwest", "西北", "029", (
        "西安市", "咸阳市", "宝鸡市", "兰州市", "西宁市", "银川市", "乌鲁木齐市",
    )),
    _Region("northeast", "东北", "024", (
        "沈阳市", "大连市", "鞍山市", "长春市", "吉林市", "哈尔滨市", "大庆市",
    )),
)  # fmt: skip


@dataclass(frozen=True)
class _Place:
    province: str  # for a municipality, the municipality itself
    area_code: str
    districts: tuple[str, ...]  # real districts (or, for 东莞, sub-districts)
    covered: bool = True


# Cities where buyers live and brands keep service centres.
PLACES: dict[str, _Place] = {
    "北京市": _Place("北京市", "010", ("朝阳区", "海淀区", "丰台区")),
    "上海市": _Place("上海市", "021", ("浦东新区", "徐汇区", "闵行区", "静安区")),
    "天津市": _Place("天津市", "022", ("南开区", "河西区")),
    "重庆市": _Place("重庆市", "023", ("渝北区", "江北区", "渝中区")),
    "广州市": _Place("广东省", "020", ("天河区", "海珠区", "越秀区")),
    "深圳市": _Place("广东省", "0755", ("南山区", "福田区", "宝安区")),
    "佛山市": _Place("广东省", "0757", ("顺德区", "南海区", "禅城区")),
    "东莞市": _Place("广东省", "0769", ("南城街道", "东城街道")),
    "杭州市": _Place("浙江省", "0571", ("西湖区", "拱墅区", "滨江区", "余杭区")),
    "宁波市": _Place("浙江省", "0574", ("鄞州区", "海曙区")),
    "温州市": _Place("浙江省", "0577", ("鹿城区", "瓯海区")),
    "南京市": _Place("江苏省", "025", ("鼓楼区", "建邺区", "江宁区")),
    "苏州市": _Place("江苏省", "0512", ("姑苏区", "吴中区", "相城区")),
    "无锡市": _Place("江苏省", "0510", ("梁溪区", "滨湖区")),
    "合肥市": _Place("安徽省", "0551", ("蜀山区", "包河区")),
    "福州市": _Place("福建省", "0591", ("鼓楼区", "仓山区")),
    "厦门市": _Place("福建省", "0592", ("思明区", "湖里区")),
    "南昌市": _Place("江西省", "0791", ("东湖区", "西湖区")),
    "济南市": _Place("山东省", "0531", ("历下区", "市中区")),
    "青岛市": _Place("山东省", "0532", ("市南区", "崂山区")),
    "郑州市": _Place("河南省", "0371", ("金水区", "二七区")),
    "武汉市": _Place("湖北省", "027", ("武昌区", "洪山区", "江汉区")),
    "长沙市": _Place("湖南省", "0731", ("岳麓区", "芙蓉区")),
    "成都市": _Place("四川省", "028", ("武侯区", "锦江区", "成华区")),
    "贵阳市": _Place("贵州省", "0851", ("云岩区", "南明区")),
    "昆明市": _Place("云南省", "0871", ("五华区", "盘龙区")),
    "西安市": _Place("陕西省", "029", ("雁塔区", "碑林区")),
    "南宁市": _Place("广西壮族自治区", "0771", ("青秀区", "西乡塘区")),
    "海口市": _Place("海南省", "0898", ("美兰区", "龙华区")),
    "沈阳市": _Place("辽宁省", "024", ("和平区", "沈河区")),
    "大连市": _Place("辽宁省", "0411", ("沙河口区", "中山区")),
    "哈尔滨市": _Place("黑龙江省", "0451", ("南岗区", "道里区")),
    "长春市": _Place("吉林省", "0431", ("朝阳区", "南关区")),
    "石家庄市": _Place("河北省", "0311", ("长安区", "桥西区")),
    "太原市": _Place("山西省", "0351", ("小店区", "迎泽区")),
    "兰州市": _Place("甘肃省", "0931", ("城关区", "七里河区")),
    "拉萨市": _Place("西藏自治区", "0891", ("城关区", "堆龙德庆区")),
    "西宁市": _Place("青海省", "0971", ("城西区", "城中区")),
    "乌鲁木齐市": _Place("新疆维吾尔自治区", "0991", ("天山区", "沙依巴克区")),
    # Not on the oh-cities list: one-click help is refused here (OH-2).
    "阿里地区": _Place("西藏自治区", "0897", ("噶尔县",), covered=False),
    "喀什地区": _Place("新疆维吾尔自治区", "0998", ("疏附县", "喀什市"), covered=False),
}

_ROADS = ("人民路", "解放路", "建设路", "和平路", "文化路", "新华路", "胜利路", "青年路", "长江路")
_COMPOUNDS = ("阳光花园", "锦绣家园", "翠苑新村", "金色港湾", "幸福里小区", "香樟苑", "明珠花苑")

# ---------------------------------------------------------------- brands

_MISUSE = Bilingual("人为损坏、进水或跌落造成的故障", "Damage by misuse, liquid or drops")
_UNAUTHORISED = Bilingual(
    "经非授权人员拆修过的产品", "Products opened or repaired by unauthorised people"
)
_FORCE_MAJEURE = Bilingual(
    "火灾、水灾、雷击等不可抗力造成的损坏",
    "Damage by fire, flood, lightning or other force majeure",
)
_WEAR = Bilingual(
    "正常磨损及灯泡、滤网等耗材", "Normal wear and consumables such as bulbs and filters"
)
_NON_ORIGINAL = Bilingual("使用非原装配件导致的故障", "Faults caused by non-original parts")
_INSTALL_BY_OTHERS = Bilingual(
    "非品牌指定人员安装或移机造成的故障",
    "Faults from installation or relocation by people the brand did not appoint",
)
_COMMERCIAL_USE = Bilingual("用于商业经营场所的产品", "Products used on commercial premises")


@dataclass(frozen=True)
class _BrandSpec:
    id: str
    name: str
    short: str  # as in the centres' names
    hotline: str
    terms: Bilingual
    exclusions: tuple[Bilingual, ...]
    centre_cities: tuple[str, ...]


# Hotlines are in the 400-000 block so the demo never dials a real company.
_BRANDS: tuple[_BrandSpec, ...] = (
    _BrandSpec(
        BRAND_GUANGMING, "光明灯饰", "光明灯饰", "400-000-1101",
        Bilingual(
            "灯具整灯保修 2 年，LED 光源保修 3 年，自签收之日起计算；全国联网售后。",
            "Fittings are covered for 2 years and LED light sources for 3 years from delivery, "
            "with after-sales service nationwide.",
        ),
        (_MISUSE, _WEAR, _UNAUTHORISED),
        ("杭州市", "上海市", "北京市", "广州市"),
    ),
    _BrandSpec(
        BRAND_SHIJI, "世纪陶瓷", "世纪陶瓷", "400-000-1102",
        Bilingual(
            "瓷砖质量问题自签收起 1 年内免费换货；铺贴质量由施工方负责。",
            "Tiles with a quality defect are replaced free within 1 year of delivery; laying "
            "quality is the fitter's responsibility.",
        ),
        (_MISUSE, Bilingual("铺贴后发现的色差、尺寸问题", "Shade or size differences found only after laying")),
        ("佛山市", "广州市", "上海市"),
    ),
    _BrandSpec(
        BRAND_SENLIN, "森林地板", "森林地板", "400-000-1103",
        Bilingual(
            "地板耐磨层质保 10 年，铺装质保 1 年。",
            "The wear layer is guaranteed for 10 years and the laying for 1 year.",
        ),
        (_MISUSE, Bilingual("长期浸水或地暖超温造成的变形", "Warping from standing water or overheated floor heating")),
        ("苏州市", "成都市"),
    ),
    _BrandSpec(
        BRAND_QINGQUAN, "清泉卫浴", "清泉卫浴", "400-000-1104",
        Bilingual(
            "智能马桶整机保修 3 年，陶瓷本体终身保修；花洒、龙头保修 5 年。",
            "Smart toilets are covered for 3 years and their ceramic body for life; showers "
            "and taps for 5 years.",
        ),
        (_MISUSE, _NON_ORIGINAL, Bilingual("水质原因造成的水垢堵塞", "Scale blockages caused by hard water")),
        ("杭州市", "上海市", "深圳市", "成都市", "武汉市"),
    ),
    _BrandSpec(
        BRAND_YUNMIAN, "云眠家居", "云眠家居", "400-000-1105",
        Bilingual(
            "家具主体结构三年质保，皮面、海绵等软体部分保修 1 年。",
            "The frame of the furniture is under a three-year warranty; leather, foam and "
            "other soft parts for 1 year.",
        ),
        (_MISUSE, _WEAR, _COMMERCIAL_USE),
        ("成都市", "广州市", "北京市", "上海市"),
    ),
    _BrandSpec(
        BRAND_MUFANG, "木坊全屋定制", "木坊", "400-000-1106",
        Bilingual(
            "柜体板材与五金三年质保，自安装完成之日起计算。",
            "Cabinet boards and hardware are under a three-year warranty from the day of "
            "installation.",
        ),
        (_MISUSE, _INSTALL_BY_OTHERS, Bilingual("受潮、暴晒造成的变形变色", "Warping or fading from damp or direct sunlight")),
        ("南京市", "杭州市", "上海市", "北京市", "深圳市"),
    ),
    _BrandSpec(
        BRAND_XINGHE, "星河电器", "星河电器", "400-000-1107",
        Bilingual(
            "小家电整机保修 1 年；热水器、洗衣机、冰箱整机保修 3 年。凭订单号全国联保。",
            "Small appliances are covered for 1 year; water heaters, washing machines and "
            "refrigerators for 3 years. National joint warranty on the order number.",
        ),
        (_MISUSE, _UNAUTHORISED, _FORCE_MAJEURE, _COMMERCIAL_USE),
        (
            "杭州市", "上海市", "北京市", "广州市", "深圳市", "南京市", "武汉市", "成都市",
            "西安市", "沈阳市", "郑州市", "长沙市",
        ),
    ),
    _BrandSpec(
        BRAND_HANFENG, "寒风空调", "寒风空调", "400-000-1108",
        Bilingual(
            "整机保修 6 年，压缩机保修 10 年；首次安装免费。凭订单号全国联保。",
            "The whole unit is covered for 6 years and the compressor for 10; the first "
            "installation is free. National joint warranty on the order number.",
        ),
        (_MISUSE, _INSTALL_BY_OTHERS, _FORCE_MAJEURE),
        ("武汉市", "广州市", "重庆市", "上海市", "北京市", "西安市"),
    ),
    _BrandSpec(
        BRAND_LINGXI, "灵犀科技", "灵犀", "400-000-1109",
        Bilingual(
            "手机整机保修 1 年，笔记本电脑保修 2 年，电池保修 1 年；全国联保，可寄修或到店。",
            "Phones are covered for 1 year, laptops for 2 years and batteries for 1 year; "
            "national joint warranty by mail-in or at a service centre.",
        ),
        (_MISUSE, _UNAUTHORISED, Bilingual("屏幕碎裂等外观损坏", "Cosmetic damage such as a cracked screen")),
        ("深圳市", "北京市", "上海市", "杭州市", "成都市", "西安市", "武汉市"),
    ),
    _BrandSpec(
        BRAND_MIANYU, "棉语服饰", "棉语", "400-000-1110",
        Bilingual(
            "7 天无理由退换；服饰不参加全国联保。",
            "Returns within 7 days for any reason; apparel has no national joint warranty.",
        ),
        (_WEAR,),
        ("杭州市",),
    ),
)  # fmt: skip

# ---------------------------------------------------------------- shops and products

_MERCHANTS: tuple[MerchantRow, ...] = (
    {"id": MERCHANT_GUANGMING, "name": "光明灯饰官方旗舰店"},
    {"id": MERCHANT_HOME, "name": "居家优选专营店"},
    {"id": MERCHANT_SHIJI, "name": "世纪陶瓷旗舰店"},
    {"id": MERCHANT_YUNMIAN, "name": "云眠家居旗舰店"},
    {"id": MERCHANT_MUFANG, "name": "木坊全屋定制旗舰店"},
    {"id": MERCHANT_XINGHE, "name": "星河电器官方旗舰店"},
    {"id": MERCHANT_HANFENG, "name": "寒风空调官方旗舰店"},
    {"id": MERCHANT_LINGXI, "name": "灵犀数码专营店"},
    {"id": MERCHANT_MIANYU, "name": "棉语服饰旗舰店"},
)

_SI = "scheduled_installation"
_DIH = "delivery_into_home"
_DWI = "delivery_with_installation"
_TYW = "three_year_warranty"
_NW = "national_warranty"


@dataclass(frozen=True)
class _Listing:
    product: Product
    merchants: tuple[str, ...]  # the shops that sell it
    price_fen: int  # list price; orders pay up to 15 % less
    bought_long_ago: bool = False  # national-warranty goods: random orders may be years old


def _product(
    product_id: str,
    name: str,
    brand: str,
    category: str,
    tags: tuple[str, ...] = (),
    warranty_months: int | None = None,
) -> Product:
    return Product(
        id=product_id,
        name=name,
        brand_id=brand,
        category_id=category,
        badges=frozenset({_NW}) if warranty_months else frozenset(),
        service_tags=frozenset(tags),
        warranty_months=warranty_months,
    )


_LISTINGS: tuple[_Listing, ...] = (
    # 灯具灯饰 / 电子电工 + 预约安装 (OH-1 (1))
    _Listing(_product(PRODUCT_LAMP, "光明 LED 吸顶灯 48W", BRAND_GUANGMING, "lighting", (_SI,)), (MERCHANT_GUANGMING, MERCHANT_HOME), 29_900),
    _Listing(_product("chandelier-8", "光明 北欧客厅吊灯 8 头", BRAND_GUANGMING, "lighting", (_SI,)), (MERCHANT_GUANGMING,), 89_900),
    _Listing(_product("switch-panel", "光明 智能开关面板 全屋套装", BRAND_GUANGMING, "electrical", (_SI,)), (MERCHANT_GUANGMING, MERCHANT_HOME), 39_900),
    # 瓷砖 / 地板 / 卫浴 + 送货入户 (OH-1 (2))
    _Listing(_product(PRODUCT_TILES, "世纪 抛光砖 800×800（40 箱）", BRAND_SHIJI, "tiles", (_DIH,)), (MERCHANT_SHIJI, MERCHANT_HOME), 860_000),
    _Listing(_product("tile-woodgrain", "世纪 木纹砖 200×1200（30 箱）", BRAND_SHIJI, "tiles", (_DIH,)), (MERCHANT_SHIJI,), 520_000),
    _Listing(_product("floor-oak", "森林 橡木实木复合地板（60 平方米）", BRAND_SENLIN, "flooring", (_DIH, _TYW)), (MERCHANT_HOME,), 1_280_000),
    _Listing(_product("toilet-smart", "清泉 智能马桶一体机", BRAND_QINGQUAN, "bathroom", (_DIH, _SI)), (MERCHANT_HOME,), 459_900),
    _Listing(_product("shower-set", "清泉 恒温淋浴花洒套装", BRAND_QINGQUAN, "bathroom", (_SI,)), (MERCHANT_HOME,), 159_900),
    # 家装家具 + 送货入户并安装 (OH-1 (3)); 三年质保 (OH-1 (4))
    _Listing(_product(PRODUCT_SOFA, "云眠 头层真皮沙发 三人位", BRAND_YUNMIAN, "sofa", (_DWI,)), (MERCHANT_YUNMIAN,), 899_900),
    _Listing(_product("bed-oak-18", "云眠 北美橡木双人床 1.8 米", BRAND_YUNMIAN, "bed", (_DWI, _TYW)), (MERCHANT_YUNMIAN,), 599_900),
    _Listing(_product("table-slate", "云眠 岩板餐桌 一桌六椅", BRAND_YUNMIAN, "dining-table", (_DWI,)), (MERCHANT_YUNMIAN,), 329_900),
    _Listing(_product(PRODUCT_WARDROBE, "木坊 全屋定制衣柜（8 平方米投影面积）", BRAND_MUFANG, "wardrobe", (_TYW, _DWI)), (MERCHANT_MUFANG,), 1_299_900),
    # 收纳整理 + 预约安装
    _Listing(_product("shelf-wall", "木坊 墙面置物架 组合", BRAND_MUFANG, "storage", (_SI,)), (MERCHANT_MUFANG, MERCHANT_HOME), 29_900),
    # 家电: 预约安装, and national joint warranty (NW-1)
    _Listing(_product(PRODUCT_AC, "寒风 变频空调 1.5 匹 挂机", BRAND_HANFENG, "air-conditioner", (_SI,), 72), (MERCHANT_HANFENG,), 329_900),
    _Listing(_product("ac-cabinet-3", "寒风 立式柜机 3 匹", BRAND_HANFENG, "air-conditioner", (_SI,), 72), (MERCHANT_HANFENG,), 799_900),
    _Listing(_product("heater-60l", "星河 电热水器 60 升", BRAND_XINGHE, "water-heater", (_SI,), 36), (MERCHANT_XINGHE,), 199_900),
    _Listing(_product("washer-10kg", "星河 滚筒洗衣机 10 公斤", BRAND_XINGHE, "washing-machine", (_SI,), 36), (MERCHANT_XINGHE,), 299_900),
    _Listing(_product("fridge-500", "星河 十字对开门冰箱 500 升", BRAND_XINGHE, "refrigerator", (), 36), (MERCHANT_XINGHE,), 459_900),
    _Listing(_product(PRODUCT_KETTLE, "星河 智能电热水壶 K1", BRAND_XINGHE, "small-kitchen", (), 12), (MERCHANT_XINGHE,), 19_900, bought_long_ago=True),
    _Listing(_product("ricecooker-r5", "星河 IH 电饭煲 R5", BRAND_XINGHE, "small-kitchen", (), 12), (MERCHANT_XINGHE,), 59_900, bought_long_ago=True),
    # 数码: national joint warranty only
    _Listing(_product(PRODUCT_PHONE, "灵犀 X1 智能手机 256GB", BRAND_LINGXI, "phone", (), 12), (MERCHANT_LINGXI,), 399_900, bought_long_ago=True),
    _Listing(_product(PRODUCT_LAPTOP, "灵犀 Air 14 笔记本电脑", BRAND_LINGXI, "laptop", (), 24), (MERCHANT_LINGXI,), 699_900, bought_long_ago=True),
    # In no programme: shows what a refusal looks like.
    _Listing(_product(PRODUCT_TSHIRT, "棉语 纯棉短袖 T 恤", BRAND_MIANYU, "apparel"), (MERCHANT_MIANYU,), 7_900),
)  # fmt: skip

# ---------------------------------------------------------------- the data set


@dataclass(frozen=True)
class Dataset:
    """The demo's rows, ready for the reference-data functions.

    Brands and products are the domain's own objects (the reference functions
    read and write them as such); the other tables are typed dict rows.

    Order items carry only their ``address_text``; :func:`load_dataset` resolves
    it. ``intended_cities`` says which covered city each address was written for
    (items outside the covered cities are left out), so tests can check the
    resolution.
    """

    seed: int
    brands: list[BrandAfterSales]
    merchants: list[MerchantRow]
    providers: list[ProviderRow]
    coverage: list[CoverageRow]
    products: list[Product]
    orders: list[OrderRow]
    order_items: list[OrderItemRow]
    intended_cities: dict[str, str] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {
            "brands": len(self.brands),
            "service_centres": sum(len(b.centres) for b in self.brands),
            "merchants": len(self.merchants),
            "providers": len(self.providers),
            "coverage": len(self.coverage),
            "products": len(self.products),
            "orders": len(self.orders),
            "order_items": len(self.order_items),
            "buyers": len({o["buyer_account"] for o in self.orders}),
        }


class DatasetError(ConfigurationError):
    """The demo data names something the policy catalogue does not know."""


@dataclass(frozen=True)
class LoadReport:
    counts: dict[str, int]
    unresolved_items: tuple[str, ...]  # order items whose address named no city


def build_dataset(seed: int = DEMO_SEED, *, today: date = DEMO_TODAY) -> Dataset:
    """The demo data for ``seed``; the same seed and day always give the same rows."""
    rng = random.Random(seed)
    brands = [_brand(spec, rng) for spec in _BRANDS]
    providers, coverage = _providers(rng)
    orders: list[OrderRow] = []
    items: list[OrderItemRow] = []
    intended: dict[str, str] = {}
    _well_known_orders(today, orders, items, intended)
    _random_orders(rng, today, orders, items, intended)
    return Dataset(
        seed=seed,
        brands=brands,
        merchants=[MerchantRow(id=m["id"], name=m["name"]) for m in _MERCHANTS],
        providers=providers,
        coverage=coverage,
        products=[listing.product for listing in _LISTINGS],
        orders=orders,
        order_items=items,
        intended_cities=intended,
    )


def load_dataset(
    conn: Connection, book: PolicyBook, dataset: Dataset, resolver: AddressResolver
) -> LoadReport:
    """Write ``dataset`` in the caller's transaction (upserts: loading twice is harmless).

    Checks first that every category, service tag and badge is in ``book``'s
    catalogue, then resolves every address in one batch.
    """
    _check_against_catalog(book, dataset)
    resolved = resolver.resolve_many([row["address_text"] for row in dataset.order_items])
    items: list[OrderItemRow] = []
    unresolved: list[str] = []
    for row, address in zip(dataset.order_items, resolved, strict=True):
        if address is None:
            unresolved.append(row["id"])
        items.append(
            {
                **row,
                "province": address.province if address else None,
                "city": address.city if address else None,
                "district": address.district if address else None,
                "area_code": address.area_code if address else None,
            }
        )
    upsert_brands(conn, dataset.brands)
    upsert_merchants(conn, dataset.merchants)
    upsert_providers(conn, dataset.providers, dataset.coverage)
    upsert_products(conn, dataset.products)
    upsert_orders(conn, dataset.orders)
    upsert_order_items(conn, items)
    return LoadReport(counts=dataset.counts(), unresolved_items=tuple(unresolved))


# ---------------------------------------------------------------- builders


def _phone(rng: random.Random, area_code: str) -> str:
    return f"{area_code}-{rng.randrange(8100_0000, 8999_9999)}"


def _street_address(rng: random.Random, city: str, district: str) -> str:
    road = rng.choice(_ROADS)
    return f"{city}{district}{road} {rng.randrange(1, 400)} 号"


def _brand(spec: _BrandSpec, rng: random.Random) -> BrandAfterSales:
    centres: list[ServiceCentre] = []
    for city in spec.centre_cities:
        place = PLACES[city]
        short_city = city.removesuffix("市")
        # The biggest cities get a second centre, named after its district.
        districts = place.districts[:2] if city in ("北京市", "上海市") else place.districts[:1]
        for district in districts:
            suffix = f"（{district}）" if len(districts) > 1 else ""
            centres.append(
                ServiceCentre(
                    name=f"{spec.short}{short_city}授权服务中心{suffix}",
                    city=city,
                    address=_street_address(rng, city, district),
                    phone=_phone(rng, place.area_code),
                    hours="周一至周日 09:00-18:00",
                )
            )
    return BrandAfterSales(
        brand_id=spec.id,
        name=spec.name,
        hotline=spec.hotline,
        warranty_terms=spec.terms,
        exclusions=spec.exclusions,
        centres=tuple(centres),
    )


def _cover(
    provider_id: str, cities: Sequence[str], services: Sequence[tuple[str, str]]
) -> list[CoverageRow]:
    return [
        CoverageRow(provider_id=provider_id, city=city, category_id=category, service_tag=tag)
        for city in cities
        for category, tag in services
    ]


def _providers(rng: random.Random) -> tuple[list[ProviderRow], list[CoverageRow]]:
    providers: list[ProviderRow] = []
    coverage: list[CoverageRow] = []
    all_cities = [city for region in REGIONS for city in region.cities]
    for region in REGIONS:
        installer, delivery, repairer = f"inst-{region.id}", f"dlv-{region.id}", f"rep-{region.id}"
        providers += [
            ProviderRow(
                id=installer,
                name=f"{region.name}家装安装服务网络",
                kind="installer",
                brand_id=None,
                calendar="cn-service-day",
                phone=_phone(rng, region.hub_area_code),
            ),
            ProviderRow(
                id=delivery,
                name=f"{region.name}大件配送入户服务队",
                kind="delivery",
                brand_id=None,
                calendar="cn-service-day",
                phone=_phone(rng, region.hub_area_code),
            ),
            ProviderRow(
                id=repairer,
                name=f"{region.name}家居维修服务中心",
                kind="repairer",
                brand_id=None,
                calendar="cn-service-day",
                phone=_phone(rng, region.hub_area_code),
            ),
        ]
        # OH-1 (1): installation on building materials (and below), storage, appliances.
        coverage += _cover(
            installer,
            region.cities,
            [("home-building", _SI), ("storage", _SI), ("appliances", _SI)],
        )
        # OH-1 (2) and (3): delivery teams carry building materials and furniture.
        delivered = [c for c in region.cities if c not in DELIVERY_GAP_CITIES]
        coverage += _cover(delivery, delivered, [("home-building", _DIH)])
        coverage += _cover(delivery, region.cities, [("home-furniture", _DWI)])
        # OH-1 (4): the three-year warranty on anything under 家装.
        coverage += _cover(repairer, region.cities, [("home", _TYW)])

    # City installers that do only lighting and electrical fittings: nearer in the
    # category tree than the regional installer, so dispatch picks them (OH-3).
    for provider_id, name, city in (
        (PROVIDER_HANGZHOU_LIGHTING, "杭州安装服务站", "杭州市"),
        ("sh-install-01", "上海灯饰安装服务站", "上海市"),
        ("bj-install-01", "北京灯饰安装服务站", "北京市"),
    ):
        providers.append(
            ProviderRow(
                id=provider_id,
                name=name,
                kind="installer",
                brand_id=None,
                calendar="cn-service-day",
                phone=_phone(rng, PLACES[city].area_code),
            )
        )
        coverage += _cover(provider_id, [city], [("lighting", _SI), ("electrical", _SI)])

    # Brands' own service centres, on their own categories.
    centre_services: dict[str, tuple[str, list[tuple[str, str]], Sequence[str] | None]] = {
        # The AC brand installs its own units everywhere (free first installation).
        BRAND_HANFENG: (PROVIDER_HANFENG_CENTRE, [("air-conditioner", _SI)], all_cities),
        BRAND_XINGHE: ("svc-xinghe", [("water-heater", _SI), ("washing-machine", _SI)], None),
        BRAND_QINGQUAN: ("svc-qingquan", [("bathroom", _SI)], None),
        BRAND_MUFANG: ("svc-mufang", [("wardrobe", _TYW), ("wardrobe", _DWI)], None),
        BRAND_YUNMIAN: ("svc-yunmian", [("home-furniture", _TYW)], None),
    }
    for spec in _BRANDS:
        if spec.id not in centre_services:
            continue
        provider_id, services, cities = centre_services[spec.id]
        providers.append(
            ProviderRow(
                id=provider_id,
                name=f"{spec.name}售后服务中心",
                kind="brand_centre",
                brand_id=spec.id,
                calendar="cn-business",
                phone=spec.hotline,
            )
        )
        coverage += _cover(provider_id, cities or spec.centre_cities, services)
    return providers, coverage


def _at(day: date, hour: int, minute: int) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI)


@dataclass(frozen=True)
class _WellKnown:
    item_id: str
    buyer: str
    merchant: str
    product_id: str
    price_fen: int
    days_ago: int  # purchase date, counted back from today
    address: str
    city: str | None  # the covered city the address is in; None when outside the list


_WELL_KNOWN: tuple[_WellKnown, ...] = (
    _WellKnown(ITEM_LAMP_HANGZHOU, DEMO_BUYER, MERCHANT_GUANGMING, PRODUCT_LAMP, 29_900, 14, "浙江省杭州市西湖区文三路 90 号", "杭州市"),
    _WellKnown(ITEM_TSHIRT, DEMO_BUYER, MERCHANT_MIANYU, PRODUCT_TSHIRT, 7_900, 9, "浙江省杭州市西湖区文三路 90 号", "杭州市"),
    _WellKnown(ITEM_TILES_GUANGZHOU, "buyer-002", MERCHANT_SHIJI, PRODUCT_TILES, 860_000, 20, "广东省广州市天河区体育西路 103 号 维多利广场 B 座 1806 室", "广州市"),
    _WellKnown(ITEM_SOFA_CHENGDU, "buyer-003", MERCHANT_YUNMIAN, PRODUCT_SOFA, 869_900, 11, "四川成都武侯区人民南路四段 11 号 锦绣家园 3 栋 1 单元 702", "成都市"),
    _WellKnown(ITEM_WARDROBE_NANJING, "buyer-004", MERCHANT_MUFANG, PRODUCT_WARDROBE, 1_299_900, 200, "江苏省南京市建邺区江东中路 211 号 1 幢 2 单元 602 室", "南京市"),
    _WellKnown(ITEM_AC_WUHAN, "buyer-005", MERCHANT_HANFENG, PRODUCT_AC, 309_900, 120, "湖北省武汉市洪山区珞喻路 1037 号", "武汉市"),
    _WellKnown(ITEM_KETTLE_SHANGHAI, "buyer-006", MERCHANT_XINGHE, PRODUCT_KETTLE, 17_900, 45, "上海浦东新区世纪大道 100 号 环球金融中心 27 楼", "上海市"),
    # NW-1: far past their 12- and 24-month warranties.
    _WellKnown(ITEM_PHONE_OUT_OF_WARRANTY, "buyer-007", MERCHANT_LINGXI, PRODUCT_PHONE, 379_900, 840, "广东省深圳市南山区深南大道 9999 号", "深圳市"),
    _WellKnown(ITEM_LAPTOP_OUT_OF_WARRANTY, "buyer-008", MERCHANT_LINGXI, PRODUCT_LAPTOP, 659_900, 1_250, "江苏苏州工业园区星湖街 328 号", "苏州市"),
    # OH-2: counties that are not on the covered-city list.
    _WellKnown(ITEM_LAMP_NGARI, "buyer-009", MERCHANT_GUANGMING, PRODUCT_LAMP, 29_900, 16, "西藏自治区阿里地区噶尔县狮泉河镇 加木路 6 号", None),
    _WellKnown(ITEM_TILES_KASHGAR, "buyer-010", MERCHANT_SHIJI, PRODUCT_TILES, 820_000, 25, "新疆喀什地区疏附县托克扎克镇 幸福路 18 号", None),
    # OH-3: a covered city where no provider delivers building materials.
    _WellKnown(ITEM_TILES_LHASA, "buyer-011", MERCHANT_SHIJI, PRODUCT_TILES, 840_000, 18, "西藏自治区拉萨市城关区北京中路 48 号", "拉萨市"),
    _WellKnown(ITEM_LAMP_BEIJING, "buyer-012", MERCHANT_GUANGMING, PRODUCT_LAMP, 27_900, 6, "北京市朝阳区建国路 88 号 SOHO 现代城 5 号楼 1203", "北京市"),
)  # fmt: skip


def _delivered(purchased: date, today: date, days: int) -> date | None:
    delivered = purchased + timedelta(days=days)
    return delivered if delivered <= today else None


def _well_known_orders(
    today: date, orders: list[OrderRow], items: list[OrderItemRow], intended: dict[str, str]
) -> None:
    for known in _WELL_KNOWN:
        order_id = "order-" + known.item_id.removeprefix("item-")
        purchased = today - timedelta(days=known.days_ago)
        orders.append(
            OrderRow(
                id=order_id,
                buyer_account=known.buyer,
                merchant_id=known.merchant,
                placed_at=_at(purchased, 10, 30),
            )
        )
        items.append(
            OrderItemRow(
                id=known.item_id,
                order_id=order_id,
                product_id=known.product_id,
                paid_price_fen=known.price_fen,
                purchased_on=purchased,
                delivered_on=_delivered(purchased, today, 3),
                address_text=known.address,
            )
        )
        if known.city:
            intended[known.item_id] = known.city


def _home_address(rng: random.Random, city: str) -> str:
    """A buyer's address in one of the ways people write them."""
    place = PLACES[city]
    district = rng.choice(place.districts)
    road, number = rng.choice(_ROADS), rng.randrange(1, 600)
    compound = rng.choice(_COMPOUNDS)
    building, unit, room = rng.randrange(1, 30), rng.randrange(1, 5), rng.randrange(1, 33) * 100
    room += rng.randrange(1, 5)
    province = "" if place.province == city else place.province
    style = rng.randrange(4)
    if style == 0:  # in full
        return f"{province}{city}{district}{road} {number} 号 {compound} {building} 幢 {unit} 单元 {room} 室"
    if style == 1:  # without province or the 市 suffix
        return f"{city.removesuffix('市')}{district}{road}{number}号{compound}{building}栋{room}"
    if style == 2:  # province abbreviated the way people say it
        short = province.removesuffix("省").removesuffix("市")
        return f"{short}{city}{district}{road}{number}号"
    return f"{city}{district}{road} {number} 号 {compound}"  # no province


def _random_orders(
    rng: random.Random,
    today: date,
    orders: list[OrderRow],
    items: list[OrderItemRow],
    intended: dict[str, str],
) -> None:
    homes = {known.buyer: known for known in _WELL_KNOWN}
    covered_places = [city for city, place in PLACES.items() if place.covered]
    shops = sorted({m for listing in _LISTINGS for m in listing.merchants})
    sequence = 0
    for n in range(1, BUYER_COUNT + 1):
        buyer = f"buyer-{n:03d}"
        if buyer in homes:  # well-known buyers keep shopping at their own address
            address, city = homes[buyer].address, homes[buyer].city
            order_count = rng.randrange(0, 3)
        else:
            city = rng.choice(covered_places)
            address = _home_address(rng, city)
            order_count = rng.randrange(1, 4)
        for _ in range(order_count):
            sequence += 1
            order_id = f"order-{sequence:04d}"
            # Home-furnishing and appliance shops are what the demo is about.
            shop = rng.choices(shops, weights=[1 if s == MERCHANT_MIANYU else 3 for s in shops])[0]
            listings = [x for x in _LISTINGS if shop in x.merchants]
            chosen = rng.sample(listings, k=min(len(listings), rng.choice((1, 1, 2))))
            old = all(x.bought_long_ago for x in chosen) and rng.random() < 0.3
            purchased = today - timedelta(
                days=rng.randrange(400, 1_100) if old else rng.randrange(1, 150)
            )
            orders.append(
                OrderRow(
                    id=order_id,
                    buyer_account=buyer,
                    merchant_id=shop,
                    placed_at=_at(purchased, rng.randrange(8, 23), rng.randrange(60)),
                )
            )
            for k, listing in enumerate(chosen, start=1):
                item_id = f"item-{sequence:04d}-{k}"
                discount = rng.choice((100, 100, 95, 90, 88, 85))
                items.append(
                    OrderItemRow(
                        id=item_id,
                        order_id=order_id,
                        product_id=listing.product.id,
                        paid_price_fen=listing.price_fen * discount // 10_000 * 100,
                        purchased_on=purchased,
                        delivered_on=_delivered(purchased, today, rng.randrange(1, 8)),
                        address_text=address,
                    )
                )
                if city:
                    intended[item_id] = city


def _check_against_catalog(book: PolicyBook, dataset: Dataset) -> None:
    catalog = book.catalog
    categories = {c.id for c in catalog.categories}
    tags = {t.id for t in catalog.service_tags}
    badges = {b.id for b in catalog.badges}
    problems: list[str] = []
    for product in dataset.products:
        if product.category_id not in categories:
            problems.append(f"product {product.id}: unknown category '{product.category_id}'")
        problems += [
            f"product {product.id}: unknown service tag '{t}'"
            for t in sorted(product.service_tags - tags)
        ]
        problems += [
            f"product {product.id}: unknown badge '{b}'" for b in sorted(product.badges - badges)
        ]
    for row in dataset.coverage:
        if row["category_id"] not in categories or row["service_tag"] not in tags:
            problems.append(
                f"coverage of {row['provider_id']} in {row['city']}: unknown category "
                f"'{row['category_id']}' or service tag '{row['service_tag']}'"
            )
    problems += [
        f"provider {p['id']}: unknown calendar '{p.get('calendar')}'"
        for p in dataset.providers
        if p.get("calendar", "wall") not in book.calendars
    ]
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise DatasetError(f"the demo data does not fit the policy catalogue: {problems[0]}{more}")
