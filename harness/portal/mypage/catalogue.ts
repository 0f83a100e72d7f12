/**
 * The online applications (オンライン申請) My Page lists: a small fixed catalogue, as data. Those
 * that need the card say so; the list is the same for everyone, as the guide's 「すべて」 tab.
 */

export interface OnlineApplication {
  id: string;
  title: string;
  department: string;
  /** The application is signed or identified with the My Number Card. */
  needsCard: boolean;
}

export const kOnlineApplications: readonly OnlineApplication[] = [
  { id: 'juminhyo', title: '住民票の写しの交付申請（郵送）', department: '市民局 区民課', needsCard: true },
  { id: 'jidou-teate', title: '児童手当の現況届', department: '子供未来局 子供家庭支援課', needsCard: true },
  { id: 'sodai-gomi', title: '粗大ごみの収集申込み', department: '環境局 廃棄物事業管理課', needsCard: false },
  { id: 'kenshin', title: '各種検診の予約', department: '健康福祉局 健康政策課', needsCard: false },
];
