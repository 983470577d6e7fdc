"""The search vocabulary: English and Chinese surface forms mapped to canonical meanings.

Every entry maps a lower-case surface form (English words or phrases, Chinese words) to a tuple
of :class:`Sem` values. A tuple with several values stands for several tokens in a row, so
``'昨晚'`` reads as "yesterday" + "evening" and ``'jogger'`` as "running" + "person".

The tables below are the single place to add words; :func:`lookup_en` and :func:`lookup_zh`
are what the parser uses. English nouns get their plurals generated (``man`` -> ``men``);
verb forms are listed explicitly because they are few and irregular.
"""

from __future__ import annotations

from functools import cache
from typing import Any, NamedTuple

# Sem kinds. Parser code switches on these; the lexicon never holds behaviour.
OBJ = "obj"  # value: class (person, vehicle, dog ...), extra: vehicle type or None
NOTE = "note"  # value: note key; attaches a note (gender, age ...) to the next/previous object
UNSUPPORTED = "unsupported"  # value: note key; the word asks for something never inferred
COLOUR = "colour"  # value: basic term, extra: (shade, also-terms)
SHADE = "shade"  # value: dark | light
OUTFIT = "outfit"  # "all in", 一身, 全身: the colours that follow are the whole outfit's
GARMENT = "garment"  # value: garment name, extra: body parts it covers
ITEM = "item"  # value: carried item
POSTURE = "posture"  # value: standing | sitting | lying
STATE = "state"  # value: running | walking | stopped | moving
DIRECTION = "direction"  # value: left | right | towards | away
SPEED = "speed"  # value: fast | slow
NUM = "num"  # value: int
MORE = "more"  # "more than", "over": the next count is exclusive
GROUP = "group"  # "a group of", "一群": at least three
CLASSIFIER = "classifier"  # Chinese measure words between a number and a noun
DAY = "day"  # value: day offset from today (0 today, -1 yesterday)
WEEKDAY = "weekday"  # value: 0 = Monday
PART = "part"  # value: part of the day (morning, afternoon ...)
CLOCKWORD = "clockword"  # value: hour (noon = 12, midnight = 0)
MERIDIEM = "meridiem"  # value: am | pm
HOURMARK = "hourmark"  # 点, o'clock
HALF = "half"  # 半: half past
MINMARK = "minmark"  # 分
MONTHMARK = "monthmark"  # 月
DAYMARK = "daymark"  # 日, 号
AFTER = "after"
BEFORE = "before"
BETWEEN = "between"  # between, from, 从
SEP = "sep"  # to, until, 到, 至, '-' between two times
LAST = "last"  # last, past, 过去, 最近
RECENT = "recent"  # value: seconds ("just now", 刚才)
UNIT = "unit"  # value: seconds in one unit
CAMERA_CUE = "camera_cue"  # camera, cam, 摄像头
ZONE_CUE = "zone_cue"  # zone, area, 区域
PLACE_PREP = "place_prep"  # at, by, near, 在
PLACE_WORD = "place_word"  # generic place nouns (gate, 门口) used when no known name matched
AND = "and"  # and, 和, commas
DE = "de"  # 的: in Chinese, what precedes 的 modifies the following noun
DET = "det"  # a, the, some: keeps an adjective next to its noun
FILLER = "filler"  # words carrying no search meaning (show, me, 穿, 着)


class Sem(NamedTuple):
    kind: str
    value: Any = None  # an int, a name, a tuple ...: what ``kind`` means
    extra: Any = None


# Notes shown to the user when a query asks for something SceneWatch deliberately does not infer.
NOTES = {
    "gender": "gender is not inferred; searching for any person",
    "age": "age is not inferred; searching for any person",
    "ethnicity": "ethnicity is not inferred; searching for any person",
    "face": "faces are not recognised",
    "plate": "licence plates are not read",
    "identity": "people are not identified or tracked across cameras",
    "accessory": "hair, glasses, masks and shoes are not described; ignored",
    "pushed": "prams, wheelchairs and trolleys are not detected; ignored",
}

# Vehicle types and the COCO classes a detector reports them as (for the search back end).
VEHICLE_COCO: dict[str, tuple[str, ...]] = {
    "car": ("car", "truck"),  # SUVs and hatchbacks seen from above are often a COCO truck
    "van": ("car", "truck"),
    "pickup": ("truck", "car"),
    "minibus": ("car", "truck", "bus"),
    "box_truck": ("truck", "bus"),
    "truck": ("truck",),
    "bus": ("bus",),
    "motorcycle": ("motorcycle",),
    "bicycle": ("bicycle",),
}
CARRIED_COCO: dict[str, tuple[str, ...]] = {
    "backpack": ("backpack",),
    "handbag": ("handbag",),
    "suitcase": ("suitcase",),
    "umbrella": ("umbrella",),
    "bag": ("backpack", "handbag", "suitcase"),
}
BASIC_COLOURS = (
    "red",
    "orange",
    "yellow",
    "green",
    "blue",
    "purple",
    "pink",
    "brown",
    "black",
    "grey",
    "white",
)
PARTS = ("head", "upper", "lower", "body", "any", "outfit")

_IRREGULAR_PLURALS = {
    "man": "men",
    "woman": "women",
    "person": "people",
    "child": "children",
    "gentleman": "gentlemen",
    "passer-by": "passers-by",
    "foot": "feet",
}


def plural(word: str) -> str:
    """English plural of the last word of ``word`` (``'pickup truck'`` -> ``'pickup trucks'``)."""
    head, _, last = word.rpartition(" ")
    if last in _IRREGULAR_PLURALS:
        p = _IRREGULAR_PLURALS[last]
    elif last.endswith(("s", "x", "ch", "sh")):
        p = last + "es"
    elif last.endswith("y") and last[-2:-1] not in "aeiou":
        p = last[:-1] + "ies"
    else:
        p = last + "s"
    return f"{head} {p}" if head else p


def _c(term: str, shade: str | None = None, *also: str) -> tuple[Sem]:
    return (Sem(COLOUR, term, (shade, also)),)


# --- tables: (meaning, English forms separated by commas, Chinese forms separated by spaces) ---
# English nouns marked with plural=True get plurals generated.

_PERSON = (Sem(OBJ, "person"),)
_NOUNS: list[tuple[tuple[Sem, ...], str, str]] = [
    (
        _PERSON,
        "person, pedestrian, someone, somebody, anyone, anybody, human, individual, passer-by, "
        "passerby, figure, subject, walker, worker, visitor, customer, intruder",
        "人 行人 路人 人员 某人 有人 人们 行人们 访客 工人 陌生人 闲杂人员 保安 警察 司机 快递员 外卖员 顾客",
    ),
    (
        (Sem(NOTE, "gender"), Sem(OBJ, "person")),
        "man, woman, lady, gentleman, guy, bloke, lad, chap, fella, dude",
        "男人 女人 男子 女子 男性 女性 男的 女的 男士 女士 先生 小姐 男生 女生",
    ),
    (
        (Sem(NOTE, "age"), Sem(OBJ, "person")),
        "child, kid, baby, toddler, teenager, teen, adult, elderly person, old person, senior",
        "小孩 孩子 儿童 小朋友 婴儿 老人 老年人 青少年 成年人 学生 小学生 中学生 大学生",
    ),
    (
        (Sem(NOTE, "gender"), Sem(NOTE, "age"), Sem(OBJ, "person")),
        "boy, girl, old man, old woman, old lady, young man, young woman",
        "男孩 女孩 老头 老太太 老太 大爷 大妈 阿姨 小伙子 姑娘 男童 女童",
    ),
    (
        (Sem(NOTE, "ethnicity"), Sem(OBJ, "person")),
        "foreigner",
        "外国人 老外 黑人 白人 亚洲人",
    ),
    ((Sem(STATE, "running"), Sem(OBJ, "person")), "jogger, runner", "跑步者"),
    ((Sem(OBJ, "vehicle"),), "vehicle, automobile", "车 车辆 机动车 汽车"),
    (
        (Sem(OBJ, "vehicle", "car"),),
        "car, sedan, saloon, hatchback, suv, jeep, off-roader, taxi, cab, estate car, minicab, police car, "
        "patrol car, cop car",
        "小汽车 轿车 小轿车 私家车 出租车 的士 越野车 吉普车 吉普 小车 跑车 警车 网约车 计程车 休旅车",
    ),
    (
        (Sem(OBJ, "vehicle", "van"),),
        "van, minivan, mpv, people carrier, seven-seater, panel van, ambulance",
        "面包车 厢式车 商务车 七座车 小货车 救护车 厢型车",
    ),
    (
        (Sem(OBJ, "vehicle", "minibus"),),
        "minibus, mini bus, minicoach, shuttle bus",
        "小巴 中巴 小客车 小型客车",
    ),
    (
        (Sem(OBJ, "vehicle", "box_truck"),),
        "box truck, box lorry, box van, removal van, moving truck, delivery truck",
        "厢式货车 箱式货车 厢货 箱货 厢式卡车",
    ),
    (
        (Sem(OBJ, "vehicle", "truck"),),
        "truck, lorry, hgv, tanker, dump truck, articulated lorry, flatbed, flatbed truck, tipper, tipper truck, "
        "semi, semi-truck, tractor trailer, fire engine, fire truck, garbage truck, bin lorry, cement mixer",
        "卡车 货车 大货车 大卡车 重型卡车 货柜车 渣土车 油罐车 泥头车 半挂车 半挂 挂车 集卡 消防车 洒水车 垃圾车 "
        "工程车 搅拌车",
    ),
    ((Sem(OBJ, "vehicle", "pickup"),), "pickup, pickup truck, pick-up, ute", "皮卡 皮卡车"),
    (
        (Sem(OBJ, "vehicle", "bus"),),
        "bus, coach, double-decker, double-decker bus",
        "公交车 公交 大巴 巴士 客车 公共汽车 校车 公车 大客车",
    ),
    (
        (Sem(OBJ, "vehicle", "motorcycle"),),
        "motorcycle, motorbike, motor bike, scooter, moped, motorcyclist, biker, e-bike, ebike, electric bike",
        "摩托车 摩托 电动车 电瓶车 电动自行车 电驴 小电驴 电摩 踏板车 摩的 机车 电单车",
    ),
    (
        (Sem(OBJ, "vehicle", "bicycle"),),
        "bicycle, bike, cycle, cyclist, push bike, pushbike, mountain bike, road bike, bmx",
        "自行车 单车 脚踏车 骑车人 共享单车 山地车",
    ),
    ((Sem(OBJ, "dog"),), "dog, puppy", "狗 小狗 狗狗"),
    ((Sem(OBJ, "cat"),), "cat, kitten", "猫 小猫"),
    ((Sem(OBJ, "bird"),), "bird", "鸟 小鸟"),
    # carried items
    ((Sem(ITEM, "backpack"),), "backpack, rucksack, knapsack, school bag", "背包 双肩包 书包 旅行包"),
    (
        (Sem(ITEM, "handbag"),),
        "handbag, purse, shoulder bag, tote bag, tote, messenger bag, crossbody bag, cross-body bag, satchel",
        "手提包 手袋 挎包 手包 单肩包 斜挎包",
    ),
    (
        (Sem(ITEM, "suitcase"),),
        "suitcase, luggage, trolley bag, trolley case, wheelie case, wheelie bag, wheeled suitcase, roller bag, "
        "carry-on, cabin bag",
        "行李箱 拉杆箱 箱子 旅行箱 行李 皮箱",
    ),
    ((Sem(ITEM, "umbrella"),), "umbrella, brolly, parasol", "伞 雨伞 阳伞 遮阳伞 太阳伞"),
    # a briefcase or holdall is seen as any of the bag classes
    (
        (Sem(ITEM, "bag"),),
        "bag, carrier bag, shopping bag, plastic bag, paper bag, bin bag, briefcase, holdall, duffel bag, "
        "duffle bag, gym bag, sports bag, laptop bag",
        "包 袋子 包包 购物袋 塑料袋 手提袋 纸袋 公文包 电脑包 腰包 编织袋",
    ),
    # garments -> body parts
    (
        (Sem(GARMENT, "top", ("upper",)),),
        "top, shirt, t-shirt, tshirt, tee, blouse, polo, polo shirt, tank top",
        "上衣 衬衫 衬衣 体恤 短袖 长袖 背心 马甲 上装 恤 恤衫 衫",
    ),
    (
        (Sem(GARMENT, "jacket", ("upper",)),),
        "jacket, coat, hoodie, sweater, jumper, sweatshirt, cardigan, raincoat, anorak, parka, overcoat, "
        "vest, gilet, fleece, blazer, hi-vis vest, high-vis jacket, puffer jacket, puffer, down jacket, "
        "windbreaker, trench coat, leather jacket, denim jacket, bomber jacket, hi-vis, hi-viz, high-vis",
        "外套 夹克 大衣 卫衣 毛衣 羽绒服 风衣 雨衣 西装 棉袄 反光衣 冲锋衣 外衣 夹克衫 皮衣 皮夹克 羽绒衣 帽衫 "
        "褛 大褛 冷衫",
    ),
    (
        (Sem(GARMENT, "trousers", ("lower",)),),
        "trousers, pants, jeans, shorts, leggings, joggers, slacks, tracksuit bottoms, sweatpants, trackies, "
        "track pants, chinos, cargo pants",
        "裤子 裤 长裤 短裤 牛仔裤 运动裤 下装 西裤 休闲裤 打底裤 阔腿裤 工装裤",
    ),
    ((Sem(GARMENT, "skirt", ("lower",)),), "skirt, miniskirt", "裙子 裙 短裙 半身裙"),
    ((Sem(GARMENT, "dress", ("upper", "lower")),), "dress, gown", "连衣裙 长裙"),
    (
        (Sem(GARMENT, "hat", ("head",)),),
        "hat, beanie, headscarf, turban, beret, woolly hat, bobble hat",
        "帽子 帽 毛线帽 头巾 礼帽 渔夫帽 草帽 遮阳帽",
    ),
    ((Sem(GARMENT, "cap", ("head",)),), "cap, baseball cap, peaked cap", "鸭舌帽 棒球帽 帽檐"),
    ((Sem(GARMENT, "hood", ("head",)),), "hood, hood up, hooded", "兜帽 帽兜 风帽 连帽"),
    ((Sem(GARMENT, "helmet", ("head",)),), "helmet, hard hat", "头盔 安全帽"),
    # a body half named before its clothes ('上身穿浅色衣服'): the clothes after it are that half's
    ((Sem(GARMENT, "clothes", ("upper",)),), "", "上身 上半身"),
    ((Sem(GARMENT, "clothes", ("lower",)),), "", "下身 下半身"),
    # clothes as a whole, and one-piece or matching sets: the outfit, every visible part ('白衣服')
    (
        (Sem(GARMENT, "clothes", ("outfit",)),),
        "clothes, clothing, outfit, uniform, tracksuit, overalls, boiler suit, jumpsuit",
        "衣服 衣 服装 衣裳 制服 运动服 校服 工作服 工装 套装",
    ),
]

_NUMBER_WORDS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
]

_WORDS: list[tuple[tuple[Sem, ...], str, str]] = [
    # colours: basic terms and shades people use; shade and secondary terms kept for ranking
    (
        _c("red"),
        "red, crimson, scarlet, ruby, cherry, vermilion, reddish",
        "红 红色 大红 大红色 鲜红 鲜红色 红的",
    ),
    (_c("red", "dark", "brown"), "maroon, oxblood", "枣红 枣红色 暗红 暗红色 深红 深红色"),
    (_c("red", "dark", "purple"), "burgundy, wine, claret", "酒红 酒红色 紫红 紫红色"),
    (_c("orange"), "orange, tangerine, amber, orangey", "橙 橙色 橘色 橘黄 橘黄色 橙黄色 橘红色"),
    (_c("orange", None, "pink"), "coral, peach, salmon", "珊瑚色"),
    (
        _c("yellow"),
        "yellow, lemon, mustard, yellowish",
        "黄 黄色 明黄 明黄色 鹅黄色 柠檬黄 黄的 荧光黄 荧光黄色",
    ),
    (_c("yellow", None, "orange"), "gold, golden", "金色 金黄色 金黄"),
    (_c("green"), "green, emerald, greenish", "绿 绿色 翠绿 翠绿色 绿的"),
    (_c("green", "dark"), "dark green, forest green, bottle green", "墨绿 墨绿色 深绿 深绿色"),
    (_c("green", "dark", "brown"), "olive, khaki green, army green", "军绿 军绿色 橄榄绿"),
    (_c("green", "light", "yellow"), "lime", "浅绿 浅绿色 嫩绿 草绿色 荧光绿"),
    (_c("blue"), "blue, bluish, royal blue, cobalt", "蓝 蓝色 宝蓝 宝蓝色 蓝的"),
    (
        _c("blue", "dark"),
        "navy, navy blue, dark blue, midnight blue",
        "深蓝 深蓝色 藏青 藏青色 藏蓝 藏蓝色 海军蓝",
    ),
    (
        _c("blue", "light"),
        "light blue, sky blue, baby blue, pale blue",
        "浅蓝 浅蓝色 天蓝 天蓝色 淡蓝 淡蓝色",
    ),
    (_c("blue", None, "green"), "teal, turquoise, cyan, aqua", "青色 湖蓝 湖蓝色 蓝绿色"),
    (_c("purple"), "purple, violet, mauve, lilac, lavender, plum", "紫 紫色 紫罗兰色 淡紫色"),
    (_c("pink"), "pink, rose, pinkish", "粉 粉色 粉红 粉红色 玫红 玫红色 粉的"),
    (_c("pink", None, "purple"), "magenta, fuchsia", "洋红 洋红色"),
    (_c("brown"), "brown, chocolate, coffee, brownish", "棕 棕色 褐色 咖啡色 棕褐色 深棕色 咖色"),
    (_c("brown", "light"), "tan, beige, camel, khaki, sand", "驼色 卡其色 卡其 米色 浅棕色 土黄色"),
    (_c("black"), "black, jet black", "黑 黑色 黑的 乌黑"),
    (_c("grey"), "grey, gray, greyish, grayish", "灰 灰色 灰的"),
    (_c("grey", "dark", "black"), "charcoal, dark grey, dark gray, anthracite", "深灰 深灰色 炭灰色"),
    (_c("grey", "light", "white"), "silver, light grey, light gray", "银色 银灰色 浅灰 浅灰色 银白色"),
    (_c("white"), "white, snow white", "白 白色 纯白 白的"),
    (_c("white", None, "yellow"), "cream, ivory, off-white", "米白 米白色 乳白色 米黄 米黄色"),
    ((Sem(SHADE, "dark"),), "dark, deep", "深 暗"),
    (_c("black", "dark", "grey"), "dark coloured, dark colored, dark-coloured, dark-colored", "深色 暗色"),
    (
        _c("white", "light", "grey"),
        "light coloured, light colored, light-coloured, light-colored",
        "浅色 淡色 浅颜色",
    ),
    ((Sem(SHADE, "light"),), "light, pale", "浅 淡 亮"),
    (
        (Sem(OUTFIT),),
        "all in, dressed in, dressed all in, all dressed in, head to toe, from head to toe, top to toe, "
        "head-to-toe",
        "一身 全身 浑身 满身 一身都是 全身都是 浑身都是 从头到脚",
    ),
    # posture
    ((Sem(POSTURE, "standing"),), "standing, stands, stand, stood, upright", "站 站着 站立 站在 站住"),
    # crouching and kneeling are read as sitting, as 蹲 is: low and still
    (
        (Sem(POSTURE, "sitting"),),
        "sitting, sits, sit, sat, seated, crouching, crouched, squatting, kneeling, knelt",
        "坐 坐着 坐在 蹲 蹲着 蹲下 坐下 跪 跪着 跪在",
    ),
    (
        (Sem(POSTURE, "lying"),),
        "lying, lies, lying down, laying, fallen, fell, fallen over, collapsed, on the ground, on the floor, "
        "face down, face up, sprawled",
        "躺 躺着 躺在 倒地 摔倒 跌倒 倒在地上 躺在地上 晕倒 倒下 趴 趴着 趴在 卧 卧倒 倒地不起",
    ),
    # motion
    (
        (Sem(STATE, "running"),),
        "running, run, runs, ran, jogging, sprinting, rushing, fleeing, dashing, legging it",
        "跑 跑步 奔跑 在跑 跑着 快跑 奔 小跑 一路小跑 飞奔 狂奔 逃跑 逃",
    ),
    (
        (Sem(STATE, "walking"),),
        "walking, walk, walks, walked, strolling, wandering, on foot",
        "走 走路 行走 步行 散步 走着 在走 走来",
    ),
    (
        (Sem(STATE, "stopped"),),
        "stopped, stopping, stationary, parked, parking, idle, idling, not moving, standing still, waiting",
        "停 停下 停着 停车 停留 静止 停放 停在 停下来 停靠 不动 等待",
    ),
    (
        (Sem(STATE, "moving"),),
        "moving, driving, travelling, traveling, passing",
        "移动 行驶 开 开着 经过 驶过 路过",
    ),
    (
        (Sem(DIRECTION, "left"),),
        "left, leftward, leftwards, to the left, going left",
        "向左 往左 朝左 左行 向左边 往左边 左边 左转 左拐 向左转 往左转",
    ),
    (
        (Sem(DIRECTION, "right"),),
        "right, rightward, rightwards, to the right, going right",
        "向右 往右 朝右 右行 向右边 往右边 右边 右转 右拐 向右转 往右转",
    ),
    (
        (Sem(DIRECTION, "towards"),),
        "towards the camera, toward the camera, towards camera, toward camera, approaching, "
        "coming towards, coming toward, coming closer, facing the camera, facing camera, this way, "
        "coming this way",
        "朝摄像头 向摄像头 朝镜头 向镜头 往镜头 往摄像头 朝着摄像头 朝着镜头 靠近摄像头 迎面 靠近镜头 面向镜头 面向摄像头 "
        "面对镜头 面对摄像头 面朝镜头 面朝摄像头 正对镜头 正对摄像头 朝这边 往这边 向这边",
    ),
    ((Sem(STATE, "walking"), Sem(SPEED, "fast")), "hurrying, hurried", "快步 疾走 快走"),
    ((Sem(STATE, "walking"), Sem(DIRECTION, "towards")), "", "走向摄像头 走向镜头 朝摄像头走 走过来 走近"),
    ((Sem(STATE, "moving"), Sem(DIRECTION, "towards")), "", "驶来 开来 驶近"),
    ((Sem(DIRECTION, "towards"),), "", "过来"),
    (
        (Sem(DIRECTION, "away"),),
        "away from the camera, away from camera, away, going away, leaving, receding, back to the camera, "
        "back to camera, backs to the camera, facing away, into the distance",
        "远离摄像头 远离镜头 背向摄像头 背对摄像头 离开 离去 远离 背向镜头 背对镜头 背对着镜头 背对着摄像头 "
        "背着镜头 背着摄像头 背朝镜头 背朝摄像头 远去 往远处 向远处",
    ),
    # leaving on foot or by car: the motion and the direction in one word
    (
        (Sem(STATE, "walking"), Sem(DIRECTION, "away")),
        "walking off, walked off, walks off",
        "走远 越走越远 走开 走掉",
    ),
    ((Sem(STATE, "running"), Sem(DIRECTION, "away")), "running off, ran off, runs off", "跑远 跑开 跑掉"),
    (
        (Sem(STATE, "moving"), Sem(DIRECTION, "away")),
        "driving off, drove off, drives off, driving away, drove away",
        "开走 驶离 开远 越开越远 驶远",
    ),
    ((Sem(DIRECTION, "right"),), "from left to right, left to right", "从左到右 从左往右 自左向右"),
    ((Sem(DIRECTION, "left"),), "from right to left, right to left", "从右到左 从右往左 自右向左"),
    ((Sem(SPEED, "fast"),), "fast, quickly, speeding, quick, rapidly", "快速 飞快 超速 快 很快 疾驰"),
    ((Sem(SPEED, "slow"),), "slow, slowly", "慢 慢慢 缓慢 慢速"),
    # counts
    ((Sem(MORE),), "more than, over", "超过 多于 大于"),
    # a count is already a least number: "at least 3" is 3, "三人以上" is 3
    ((Sem(DET),), "at least, or more, no fewer than, no less than", "至少 以上 或以上 不少于"),
    (
        (Sem(GROUP),),
        "group of, crowd of, a group of, gathering of, groups of, crowds of, several, gathered, huddled",
        "一群 一伙 一帮 成群 聚集 好几个 好几名 好几位 好几辆",
    ),
    ((Sem(GROUP), Sem(OBJ, "person")), "crowd, crowds, group, gathering", "人群 一群人 多人 很多人"),
    ((Sem(NUM, 2),), "couple of, pair of, a couple of, a pair of, a few, multiple", "一对"),
    ((Sem(NOTE, "gender"), Sem(NUM, 2), Sem(OBJ, "person")), "", "一男一女"),
    # 'a few', 'multiple': at least two
    ((Sem(NUM, 2), Sem(CLASSIFIER)), "", "几个 几名 几位 几辆 几只 多个 多名 多位 多辆 多只"),
    ((Sem(NUM, 11), Sem(CLASSIFIER)), "", "十几个 十几名 十几位 十几辆"),
    ((Sem(CLASSIFIER),), "", "个 名 位 辆 台 只 条 部 架 群"),
    # time
    ((Sem(DAY, 0),), "today", "今天 今日 当天"),
    ((Sem(DAY, -1),), "yesterday", "昨天 昨日"),
    ((Sem(DAY, -2),), "day before yesterday, the day before yesterday", "前天 前日"),
    ((Sem(DAY, -3),), "", "大前天"),
    ((Sem(DAY, 0), Sem(PART, "morning")), "this morning", "今早 今天早上 今晨"),
    ((Sem(DAY, 0), Sem(PART, "afternoon")), "this afternoon", ""),
    ((Sem(DAY, 0), Sem(PART, "evening")), "this evening", "今晚"),
    ((Sem(DAY, 0), Sem(PART, "night")), "tonight", ""),
    ((Sem(DAY, -1), Sem(PART, "evening")), "", "昨晚"),
    ((Sem(DAY, -1), Sem(PART, "night")), "last night", "昨夜"),
    ((Sem(DAY, -1), Sem(PART, "morning")), "", "昨早"),
    ((Sem(PART, "morning"),), "morning, in the morning", "上午 早上 早晨 清晨 早"),
    ((Sem(PART, "noon"),), "around noon, lunchtime, lunch time", "中午 正午 午间"),
    ((Sem(PART, "afternoon"),), "afternoon, in the afternoon", "下午 午后"),
    ((Sem(PART, "evening"),), "evening, in the evening", "晚上 傍晚 晚间"),
    ((Sem(PART, "day"),), "daytime, during the day", "白天 白日"),
    (
        (Sem(PART, "night"),),
        "night, at night, overnight, night time, nighttime, after dark",
        "夜里 夜间 深夜 半夜 夜晚 晚间",
    ),
    ((Sem(PART, "early"),), "early hours, small hours, early morning", "凌晨"),
    *[
        ((Sem(WEEKDAY, n),), f"{en}, on {en}, last {en}", f"周{zh} 星期{zh} 礼拜{zh}")
        for n, (en, zh) in enumerate(
            zip(
                ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"],
                "一二三四五六日",
                strict=True,
            )
        )
    ],
    ((Sem(WEEKDAY, 6),), "", "周天 星期天 礼拜天"),
    ((Sem(CLOCKWORD, 12),), "noon, midday", ""),
    ((Sem(CLOCKWORD, 0),), "midnight", "午夜 零点"),
    ((Sem(MERIDIEM, "am"),), "am, a.m.", ""),
    ((Sem(MERIDIEM, "pm"),), "pm, p.m.", ""),
    ((Sem(HOURMARK),), "o'clock, oclock", "点 点钟 时"),
    ((Sem(HALF),), "", "半"),
    # '七八点' (about seven or eight o'clock): from the first hour to half past the second
    *[
        ((Sem(NUM, n), Sem(HOURMARK), Sem(SEP), Sem(NUM, n + 1), Sem(HOURMARK), Sem(HALF)), "", f"{a}{b}点")
        for n, (a, b) in enumerate(zip("一两三四五六七八九", "两三四五六七八九十", strict=True), start=1)
    ],
    ((Sem(NUM, 11), Sem(HOURMARK), Sem(SEP), Sem(NUM, 12), Sem(HOURMARK), Sem(HALF)), "", "十一二点"),
    ((Sem(MINMARK),), "", "分"),
    ((Sem(MONTHMARK),), "", "月"),
    ((Sem(DAYMARK),), "", "日 号"),
    ((Sem(AFTER),), "after, since, later than, onwards, onward", "以后 之后 后 以来 起 开始 往后 过后"),
    ((Sem(BEFORE),), "before, until, till, earlier than, up to", "以前 之前 前 为止 以内"),
    ((Sem(BETWEEN),), "between, from", "从 在从"),
    ((Sem(SEP),), "to, -, ~", "到 至 ~"),
    ((Sem(LAST),), "last, past, previous, the last, the past, within the last, within", "过去 最近 近 上"),
    ((Sem(RECENT, 900),), "just now, recently, a moment ago", "刚才 刚刚 方才"),
    ((Sem(UNIT, 60),), "minute, min, mins, minutes", "分钟"),
    ((Sem(UNIT, 3600),), "hour, hr, hrs, hours", "小时 钟头 个小时"),
    ((Sem(UNIT, 86400),), "day, days", "天"),
    ((Sem(UNIT, 604800),), "week, weeks", "周 星期 礼拜"),
    ((Sem(NUM, 30), Sem(UNIT, 60)), "half an hour, half hour", "半小时 半个小时 半个钟头"),
    # places and cameras
    (
        (Sem(CAMERA_CUE),),
        "camera, cam, cameras, cctv, feed",
        "摄像头 摄像机 相机 镜头 监控 探头 机位 摄影机 监视器",
    ),
    ((Sem(ZONE_CUE),), "zone, area, region, zones", "区域 区 范围 地带"),
    (
        (Sem(PLACE_PREP),),
        "at, by, near, in, on, outside, inside, beside, next to, in front of, behind",
        "在 于 靠近 附近 旁边 旁 边上 前面 后面 门前 里面 外面 对面",
    ),
    (
        (Sem(PLACE_WORD),),
        "gate, entrance, exit, door, doorway, lobby, car park, parking lot, driveway, street, road, "
        "corridor, hallway, warehouse, yard, garden, reception, loading bay, crossing, junction",
        "大门 门口 门 停车场 路口 入口 出口 大厅 走廊 仓库 院子 前台 车库 十字路口 马路 街道 楼道 "
        "后门 前门 侧门 东门 西门 南门 北门 人行道 后院",
    ),
    # what is never inferred
    ((Sem(UNSUPPORTED, "face"),), "face, faces, facial, face recognition", "人脸 脸 面部 长相 人脸识别"),
    (
        (Sem(UNSUPPORTED, "plate"),),
        "plate, plates, licence plate, license plate, number plate, registration, anpr",
        "车牌 车牌号 牌照 号牌",
    ),
    (
        (Sem(UNSUPPORTED, "identity"),),
        "identify, identity, identities, same person, recognise, recognize, track across, whose",
        "身份 是谁 同一个人 同一人 识别 认出",
    ),
    ((Sem(UNSUPPORTED, "gender"),), "", "男 女"),
    (
        (Sem(UNSUPPORTED, "accessory"),),
        "hair, haired, dark-haired, fair-haired, blond, blonde, bald, beard, glasses, sunglasses, mask, "
        "face mask, masked, shoes, trainers, sneakers",
        "头发 长发 短发 光头 胡子 眼镜 墨镜 太阳镜 口罩 面罩 鞋 鞋子 运动鞋 皮鞋 靴子",
    ),
    (
        (Sem(UNSUPPORTED, "pushed"),),
        "pram, pushchair, buggy, stroller, wheelchair, shopping trolley",
        "婴儿车 推车 手推车 童车 轮椅 购物车",
    ),
    ((Sem(UNSUPPORTED, "age"),), "old, young, elderly, aged, years old", "老 年轻 年老 岁"),
    ((Sem(UNSUPPORTED, "ethnicity"),), "asian, african, caucasian, hispanic, ethnicity, race", "种族 民族"),
    ((Sem(UNSUPPORTED, "gender"),), "male, female, gender", "性别"),
    # grammar
    ((Sem(AND),), "and, or, plus, as well as", "和 与 跟 以及 还有 或 或者 及 并且 、"),
    ((Sem(DE),), "", "的 之"),
    (
        (Sem(DET),),
        # 't' is the letter of 't恤' (T-shirt), split off as an English word
        "a, an, the, some, any, all, colored, coloured, color, colour, t",
        "一些 这个 那个 某个 任何 颜色 色",
    ),
    (
        (Sem(FILLER),),
        "show, me, find, search, look, looking, for, with, wearing, wears, wore, dressed, in, of, is, "
        "are, was, were, who, that, which, there, has, had, have, having, carrying, carries, holding, "
        "holds, pulling, pushing, dragging, riding, rides, please, "
        "footage, video, videos, clip, clips, any, anything, everything, seen, appearing, appear, "
        "appears, list, get, give, all, at, it, its, his, her, their, them, they, he, she, "
        "ground, floor, while, when, then, being, been, be, also, something, like, got, go, going, "
        "coming, heading, headed, bright, where, what, can, you, i, need, want, see, let, lets, let's, "
        "about, around, approximately, roughly, late, earlier, turning, turns, turned, turn, neon, fluorescent, "
        "facing",
        "穿 穿着 穿了 着 戴 戴着 戴了 挎 挎着 背 背着 背了 拿 拿着 提 提着 拎着 拖着 推着 带着 打着 骑 骑着 "
        "查 查一下 查找 查询 搜索 找 找到 找出 显示 为 看 看看 给我 我 要 有 有没有 是 了 过 所有 全部 一下 请 "
        "出现 出现过 视频 录像 画面 一个 地上 地面 里 中 内 那 这 哪些 什么 吗 呢 一名 之间 时候 的时候 "
        "身穿 身着 手拿 手提 肩背 正在 在那 一直 左右 大概 大约 约 差不多 拉 拉着 打 拐 拐弯 转弯 荧光 "
        "方向 这边 那边",
    ),
]


def _split_en(forms: str) -> list[str]:
    return [f.strip() for f in forms.split(",") if f.strip()]


@cache
def _tables() -> tuple[dict[str, tuple[Sem, ...]], dict[str, tuple[Sem, ...]]]:
    en: dict[str, tuple[Sem, ...]] = {}
    zh: dict[str, tuple[Sem, ...]] = {}
    for sems, en_forms, zh_forms in _NOUNS:
        for form in _split_en(en_forms):
            en.setdefault(form, sems)
            en.setdefault(plural(form), sems)
        for form in zh_forms.split():
            zh.setdefault(form, sems)
    for sems, en_forms, zh_forms in _WORDS:
        for form in _split_en(en_forms):
            en.setdefault(form, sems)
        for form in zh_forms.split():
            zh.setdefault(form, sems)
    for n, word in enumerate(_NUMBER_WORDS):
        en.setdefault(word, (Sem(NUM, n),))
    # variants: "t shirt", "pick up" etc. are reached through hyphen/space-insensitive keys
    for form in [f for f in en if "-" in f]:
        en.setdefault(form.replace("-", " "), en[form])
    return en, zh


def lookup_en(phrase: str) -> tuple[Sem, ...] | None:
    """Meanings of an English word or space-separated phrase (already lower-case)."""
    return _tables()[0].get(phrase)


# Traditional characters of the words above, read as their simplified forms ('紅色轎車'). Only
# characters simplified text does not use are listed (著 aside, rare in a query), so simplified
# queries read the same.
_TRADITIONAL = (
    "紅红 綠绿 藍蓝 黃黄 銀银 淺浅 褲裤 襯衬 夾夹 裝装 連连 頭头 鴨鸭 帶带 著着 揹背 雙双 書书 桿杆 傘伞 購购 "
    "單单 車车 輛辆 轎轿 貨货 麵面 廂厢 機机 腳脚 電电 動动 計计 騎骑 駛驶 過过 經经 開开 離离 遠远 對对 鏡镜 "
    "攝摄 監监 視视 門门 場场 廠厂 庫库 園园 樓楼 廳厅 區区 邊边 裡里 裏里 後后 從从 點点 鐘钟 時时 間间 週周 "
    "禮礼 號号 個个 隻只 條条 臺台 兩两 幾几 還还 與与 們们 飛飞 為为 這这 誰谁 臉脸 識识 別别 認认 歲岁 輕轻 "
    "員员 衛卫 顧顾 兒儿 國国 亞亚 閒闲 雜杂 爺爷 媽妈 麼么 嗎吗 絨绒 風风 櫃柜 輪轮 褸褛 靜静 長长 戶户 馬马 "
    "陽阳 務务"
)
_T2S = str.maketrans({pair[0]: pair[1] for pair in _TRADITIONAL.split()})


def lookup_zh(word: str) -> tuple[Sem, ...] | None:
    """Meanings of a Chinese word, in simplified or traditional characters."""
    return _tables()[1].get(word.translate(_T2S))


@cache
def max_zh_len() -> int:
    return max(len(w) for w in _tables()[1])


@cache
def max_en_words() -> int:
    return max(len(w.split()) for w in _tables()[0])


_ZH_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "兩": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
ZH_NUMERAL_CHARS = frozenset(_ZH_DIGITS) | {"十", "百"}


def zh_number(text: str) -> int | None:
    """Value of a Chinese numeral (``'两'`` 2, ``'十五'`` 15, ``'二十三'`` 23, ``'一百'`` 100)."""
    if not text or any(ch not in ZH_NUMERAL_CHARS for ch in text):
        return None
    if len(text) == 2 and text[0] in _ZH_DIGITS and text[1] in _ZH_DIGITS:
        low, high = _ZH_DIGITS[text[0]], _ZH_DIGITS[text[1]]
        if low and (high == low + 1 or text == "三五"):
            return low  # '两三个', '三五成群': a rough count, read as its least
    total, current = 0, 0
    for ch in text:
        if ch in _ZH_DIGITS:
            current = current * 10 + _ZH_DIGITS[ch] if current and text[0] not in "十百" else _ZH_DIGITS[ch]
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        elif ch == "百":
            total += (current or 1) * 100
            current = 0
    return total + current
